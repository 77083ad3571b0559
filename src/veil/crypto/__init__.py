"""veil.crypto: the only user of ciphers — streaming AEAD, HPKE sealing, key files, digests."""
