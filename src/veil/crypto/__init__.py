"""veil.crypto."""
