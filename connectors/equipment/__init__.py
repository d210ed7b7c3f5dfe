"""Equipment registers: classroom equipment from TOPdesk asset management and Snipe-IT."""
