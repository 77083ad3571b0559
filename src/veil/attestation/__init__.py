"""veil.attestation."""
