"""Source-system connectors: each reads one system page by page and yields normalised entities."""
