"""veil.host."""
