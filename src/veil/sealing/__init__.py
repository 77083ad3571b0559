"""veil.sealing."""
