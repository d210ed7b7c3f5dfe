"""Service desks: IT support tickets (TOPdesk incidents)."""
