"""Fuzz harness: ``evidence.json`` documents (simulated, and SGX with collateral)."""

from __future__ import annotations

from pathlib import Path

from fuzz._harness import Harness, main, typed
from fuzz._real import real_bundles
from fuzz._veil_inputs import CLAIM_VALUES, SEALING_PUBLIC_KEY, by_field_name, simulated_evidence
from veil.attestation.collateral import Collateral
from veil.attestation.evidence import (
    AppIdentity,
    Deployment,
    EvidenceDocument,
    RuntimeIdentity,
    SealingKeyInfo,
)
from veil.attestation.result import Tee


def fuzz_one(data: bytes) -> None:
    with typed():
        EvidenceDocument.from_json(data).to_json()


def _document(tee: Tee, quote: bytes, collateral: Collateral | None, root: bytes | None) -> bytes:
    simulated = simulated_evidence()
    claims = simulated.claims
    return EvidenceDocument(
        tee=tee,
        ratls_certificate=simulated.issued.pem,
        quote=quote,
        collateral=collateral,
        simulation_root_public_key=root,
        runtime=RuntimeIdentity(version=claims.runtime_version, digest=claims.runtime_digest),
        app=AppIdentity(
            name=claims.app_name,
            fingerprint=claims.app_fingerprint,
            security_config_digest=claims.security_config_digest,
        ),
        deployment=by_field_name(
            Deployment, {**CLAIM_VALUES, "sans": ("app.example",), "nonce": b"n" * 16}
        ),
        sealing=SealingKeyInfo(public_key=SEALING_PUBLIC_KEY, suite="x25519"),
    ).to_json()


def seeds(vectors: Path) -> list[bytes]:
    simulated = simulated_evidence()
    sgx = real_bundles(vectors)["sgx"]
    return [
        _document(Tee.SIMULATED, simulated.issued.quote, None, simulated.root.public_key_bytes()),
        _document(Tee.SGX, sgx.quote, sgx.collateral, None),
    ]


HARNESS = Harness(fuzz_one, seeds, json_seeds=True)

if __name__ == "__main__":
    main(HARNESS)
