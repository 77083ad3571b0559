"""Fuzz harnesses for veil's parsers of untrusted bytes (see README.md)."""
