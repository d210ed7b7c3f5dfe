"""Learning-platform sources: LMS and student-information systems (OneRoster first)."""
