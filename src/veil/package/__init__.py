"""veil.package."""
