"""veil.ratls."""
