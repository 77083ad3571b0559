"""veil.enclave.backends."""
