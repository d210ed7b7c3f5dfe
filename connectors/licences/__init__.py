"""Licence sources: the licences a school owner holds, and who holds them."""
