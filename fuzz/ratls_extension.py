"""Fuzz harness: RA-TLS certificates (PEM, DER) and veil's CBOR evidence extension."""

from __future__ import annotations

from pathlib import Path

from fuzz._harness import Harness, main, typed
from fuzz._veil_inputs import simulated_evidence
from veil.ratls.extension import VeilEvidence
from veil.ratls.extract import read_ratls_evidence

#: Real certificates: a Graphene RA-TLS certificate (legacy quote extension) from a real
#: enclave, and a plain certificate chain with no evidence at all (Intel's PCK CA and root).
_REAL_CERTIFICATES = (
    "bytedance-fedlearner/graphene_ratls_cert.pem",
    "google-go-tdx-guest/pckcrl_issuer_chain.pem",
)


def fuzz_one(data: bytes) -> None:
    with typed():
        VeilEvidence.from_cbor(data)
    with typed():
        evidence = read_ratls_evidence(data)
        _ = evidence.claims


def seeds(vectors: Path) -> list[bytes]:
    issued = simulated_evidence().issued
    return [
        issued.evidence.to_cbor(),
        issued.pem,
        issued.der,
        *((vectors / path).read_bytes() for path in _REAL_CERTIFICATES),
    ]


HARNESS = Harness(fuzz_one, seeds)

if __name__ == "__main__":
    main(HARNESS)
