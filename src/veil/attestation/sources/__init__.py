"""Collateral sources: where DCAP collateral comes from (a file, Intel PCS, a PCCS, a cache).

The only network code of ``veil.attestation`` lives here; the verifier itself stays pure.
"""
