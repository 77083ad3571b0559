"""veil.sealing: the owner's secrets sealed (HPKE) to one attested enclave instance."""
