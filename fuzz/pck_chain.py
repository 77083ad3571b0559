"""Fuzz harness: PEM certificate chains (PCK chains) through chain checks and the SGX extension."""

from __future__ import annotations

from pathlib import Path

from fuzz._harness import Harness, main, typed
from fuzz._real import real_quotes
from veil.attestation.pck import PckExtension, pck_ca_type_of
from veil.attestation.pki import (
    chain_windows,
    load_pem_chain,
    public_key_bytes,
    verify_chain,
)
from veil.attestation.quote import parse_quote
from veil.attestation.roots import INTEL_SGX_ROOT


def fuzz_one(data: bytes) -> None:
    with typed():
        chain = load_pem_chain(data, step="2.1", what="PCK chain")
        # Each check on its own, so a certificate refused by one still reaches the others.
        with typed():
            verify_chain(chain, anchor=INTEL_SGX_ROOT, step="2.2", what="PCK chain")
        with typed():
            chain_windows(chain, step="2.3", what="PCK chain")
        with typed():
            PckExtension.from_certificate(chain[0].certificate)
        with typed():
            pck_ca_type_of(chain[1].certificate)
        for certificate in chain:
            with typed():
                public_key_bytes(certificate, step="3.1", what="certificate")


def seeds(vectors: Path) -> list[bytes]:
    return [parse_quote(q).certification.pck_cert_chain_pem for q in real_quotes(vectors)]


HARNESS = Harness(fuzz_one, seeds)

if __name__ == "__main__":
    main(HARNESS)
