"""veil.controlplane."""
