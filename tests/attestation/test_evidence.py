from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO_ROOT
from tests.ratls._certs import CLAIMS, NOW, ROOT, claims, simulated_quote_fn
from veil.attestation.collateral import load_collateral
from veil.attestation.errors import PolicyError
from veil.attestation.evidence import (
    MAX_EVIDENCE_BYTES,
    AppIdentity,
    Deployment,
    EvidenceDocument,
    EvidenceFormatError,
    RuntimeIdentity,
    SealingKeyInfo,
)
from veil.attestation.policy import default_policy
from veil.attestation.result import Tee
from veil.attestation.simulated import SimulationRoot
from veil.ratls.evidence import EvidenceMismatchError, verify_evidence_document
from veil.ratls.extension import RatlsClaims
from veil.ratls.issue import issue_ratls_certificate

SCHEMA = json.loads((REPO_ROOT / "docs/schemas/evidence.schema.json").read_text())
FINGERPRINT = CLAIMS.app_fingerprint
RUNTIME_DIGEST = CLAIMS.runtime_digest
INSTANCE_ID = CLAIMS.instance_id
SEALING_KEY = b"K" * 32
INSECURE = default_policy(allow_simulated_insecure=True)


def _document(*, nonce: bytes = b"", claims: RatlsClaims = CLAIMS) -> EvidenceDocument:
    issued = issue_ratls_certificate(
        ec.generate_private_key(ec.SECP256R1()),
        quote_fn=simulated_quote_fn(),
        sealing_public_key=SEALING_KEY,
        sealing_suite="x25519",
        sans=["app.example", "10.0.0.1"],
        now=NOW,
        nonce=nonce,
        claims=claims,
    )
    return EvidenceDocument(
        tee=Tee.SIMULATED,
        ratls_certificate=issued.pem,
        quote=issued.quote,
        collateral=None,
        simulation_root_public_key=ROOT.public_key_bytes(),
        runtime=RuntimeIdentity(version=claims.runtime_version, digest=claims.runtime_digest),
        app=AppIdentity(
            name=claims.app_name,
            fingerprint=claims.app_fingerprint,
            security_config_digest=claims.security_config_digest,
        ),
        deployment=Deployment(
            instance_id=claims.instance_id,
            sans=("app.example", "10.0.0.1"),
            port=claims.port,
            created_at=claims.created_at,
            tls_scenario=claims.tls_scenario,
            tls_pin=claims.tls_pin,
            nonce=nonce,
        ),
        sealing=SealingKeyInfo(public_key=SEALING_KEY, suite="x25519"),
    )


DOCUMENT = _document()


def _json(document: EvidenceDocument) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(document.to_json())
    return loaded


def test_json_roundtrip_and_schema() -> None:
    data = DOCUMENT.to_json()
    jsonschema.validate(json.loads(data), SCHEMA)
    assert EvidenceDocument.from_json(data) == DOCUMENT
    assert data.endswith(b"\n")
    assert json.loads(data)["format"] == "veil-evidence"
    assert json.loads(data)["version"] == 1


def test_nonce_roundtrip_and_schema() -> None:
    # Only the shape here: tests/enclave/test_evidence_freshness.py checks the signature.
    answered = replace(DOCUMENT.deployment, nonce=b"verifier-nonce", nonce_signature=b"0" * 71)
    document = replace(DOCUMENT, deployment=answered)
    jsonschema.validate(_json(document), SCHEMA)
    assert EvidenceDocument.from_json(document.to_json()) == document


def test_hardware_document_embeds_collateral(shared_vectors_dir: Path) -> None:
    cosmian = json.loads((shared_vectors_dir / "cosmian-enclave/evidence.json").read_text())
    collateral = load_collateral(
        (
            shared_vectors_dir
            / "_assembled/cosmian_enclave_ratls_quote_extracted_bin/collateral.json"
        ).read_bytes()
    )
    document = replace(
        DOCUMENT,
        tee=Tee.SGX,
        ratls_certificate=cosmian["ratls_certificate"].encode(),
        quote=(shared_vectors_dir / "cosmian-enclave/ratls_quote_extracted.bin").read_bytes(),
        collateral=collateral,
        simulation_root_public_key=None,
    )
    jsonschema.validate(_json(document), SCHEMA)
    again = EvidenceDocument.from_json(document.to_json())
    assert again.collateral is not None
    assert again.collateral.digest() == collateral.digest()
    # A foreign (Cosmian) certificate carries no sealing key or claims: not veil evidence.
    with pytest.raises(EvidenceMismatchError, match="needs a veil RA-TLS certificate"):
        verify_evidence_document(
            again,
            policy=default_policy(allow_tcb_statuses=["OutOfDate"]),
            now=datetime(2023, 6, 24, 12, 34, 31, tzinfo=UTC),
        )


def test_verify_simulated_document() -> None:
    verified = verify_evidence_document(
        EvidenceDocument.from_json(DOCUMENT.to_json()), policy=INSECURE, now=NOW
    )
    assert verified.verified_quote.tee is Tee.SIMULATED
    assert verified.certificate.sealing_public_key == SEALING_KEY


def test_simulated_document_refused_by_default_policy() -> None:
    with pytest.raises(PolicyError, match="rule simulated"):
        verify_evidence_document(DOCUMENT, policy=default_policy(), now=NOW)


def test_pinned_simulation_root_must_match() -> None:
    verify_evidence_document(
        DOCUMENT, policy=INSECURE, now=NOW, simulation_root_public_key=ROOT.public_key_bytes()
    )
    with pytest.raises(EvidenceMismatchError, match="simulation_root_public_key"):
        verify_evidence_document(
            DOCUMENT,
            policy=INSECURE,
            now=NOW,
            simulation_root_public_key=SimulationRoot.generate().public_key_bytes(),
        )


# --- every claim in the document must equal the attested one --------------------------------


def _app(**changes: Any) -> dict[str, Any]:
    return {"app": replace(DOCUMENT.app, **changes)}


def _deployment(**changes: Any) -> dict[str, Any]:
    return {"deployment": replace(DOCUMENT.deployment, **changes)}


#: Every signed field of evidence.json, and a document that differs from the certificate in it.
SIGNED_FIELD_EDITS: list[tuple[dict[str, Any], str]] = [
    (_app(name="someone-else"), "app.name"),
    (_app(fingerprint="sha256:" + "ff" * 32), "app.fingerprint"),
    (_app(security_config_digest="sha256:" + "ff" * 32), "app.security_config_digest"),
    ({"runtime": RuntimeIdentity(version="9.9.9", digest=RUNTIME_DIGEST)}, "runtime.version"),
    (
        {"runtime": RuntimeIdentity(version="0.1.0", digest="sha256:" + "00" * 32)},
        "runtime.digest",
    ),
    ({"sealing": SealingKeyInfo(public_key=b"O" * 32, suite="x25519")}, "sealing.public_key"),
    ({"sealing": SealingKeyInfo(public_key=SEALING_KEY, suite="other")}, "sealing.suite"),
    (_deployment(instance_id="f" * 32), "deployment.instance_id"),
    (_deployment(sans=("evil.example",)), "deployment.sans"),
    (_deployment(sans=("app.example",)), "deployment.sans"),
    (_deployment(port=8444), "deployment.port"),
    (_deployment(created_at=NOW + timedelta(seconds=1)), "deployment.created_at"),
    (_deployment(created_at=NOW - timedelta(days=365)), "deployment.created_at"),
]


@pytest.mark.parametrize(
    ("changes", "field"),
    SIGNED_FIELD_EDITS,
    ids=[f"{field}-{i}" for i, (_, field) in enumerate(SIGNED_FIELD_EDITS)],
)
def test_document_claim_differing_from_the_certificate_is_refused(
    changes: dict[str, Any], field: str
) -> None:
    forged = replace(DOCUMENT, **changes)
    with pytest.raises(EvidenceMismatchError, match=f"evidence {field} is"):
        verify_evidence_document(forged, policy=INSECURE, now=NOW)


def test_quote_differing_from_the_certificate_is_refused() -> None:
    other = _document()
    with pytest.raises(EvidenceMismatchError, match="evidence quote is"):
        verify_evidence_document(replace(DOCUMENT, quote=other.quote), policy=INSECURE, now=NOW)


def test_same_instant_in_another_zone_is_the_same_created_at() -> None:
    east = NOW.astimezone(timezone(timedelta(hours=2)))
    verify_evidence_document(
        replace(DOCUMENT, deployment=replace(DOCUMENT.deployment, created_at=east)),
        policy=INSECURE,
        now=NOW,
    )


def test_certificate_claiming_another_app_is_refused() -> None:
    other = _document(claims=claims(app_fingerprint="sha256:" + "ee" * 32))
    with pytest.raises(EvidenceMismatchError, match=r"app\.fingerprint"):
        verify_evidence_document(replace(other, app=DOCUMENT.app), policy=INSECURE, now=NOW)


# --- strict parsing ----------------------------------------------------------------------------


def _with(mutate: Any) -> bytes:
    document = _json(DOCUMENT)
    mutate(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=2), "unsupported evidence version 2"),
        (lambda d: d.update(version=True), "unsupported evidence version"),
        (lambda d: d.update(format="other"), "format: expected"),
        (lambda d: d.update(extra=1), "unknown member 'extra'"),
        (lambda d: d["app"].update(extra=1), "app: unknown member"),
        (lambda d: d.pop("sealing"), "missing member 'sealing'"),
        (lambda d: d.update(tee="sev"), "unknown TEE"),
        (lambda d: d.update(quote="not base64!"), "quote: not canonical base64"),
        (lambda d: d["deployment"].update(port=0), "deployment.port"),
        (lambda d: d["deployment"].update(port="443"), "deployment.port"),
        (lambda d: d["deployment"].update(instance_id="ABC"), "instance_id"),
        (lambda d: d["deployment"].update(created_at="2026-01-01T00:00:00"), "time zone"),
        (lambda d: d["app"].update(fingerprint="md5:00"), "app.fingerprint"),
        (lambda d: d["app"].pop("security_config_digest"), "missing member"),
        (lambda d: d["app"].update(security_config_digest="00" * 32), "security_config_digest"),
        (lambda d: d.update(ratls_certificate="garbage"), "one PEM certificate"),
        (lambda d: d.pop("simulation_root_public_key"), "simulation_root_public_key"),
        (lambda d: d.update(collateral={"format": "veil-collateral"}), "collateral"),
    ],
)
def test_malformed_document_is_refused(mutate: Any, message: str) -> None:
    with pytest.raises(EvidenceFormatError, match=message):
        EvidenceDocument.from_json(_with(mutate))


def test_duplicate_members_and_oversize_are_refused() -> None:
    data = DOCUMENT.to_json()
    duplicated = data.replace(b'"tee": "simulated"', b'"tee": "simulated", "tee": "sgx"')
    with pytest.raises(EvidenceFormatError, match="duplicate key 'tee'"):
        EvidenceDocument.from_json(duplicated)
    with pytest.raises(EvidenceFormatError, match="NaN is not valid JSON"):
        EvidenceDocument.from_json(data.replace(b'"version": 1', b'"version": NaN', 1))
    with pytest.raises(EvidenceFormatError, match="larger than"):
        EvidenceDocument.from_json(b" " * (MAX_EVIDENCE_BYTES + 1))
    with pytest.raises(EvidenceFormatError, match="not valid JSON"):
        EvidenceDocument.from_json(b"\xff")


def test_hardware_document_cannot_carry_a_simulation_root() -> None:
    with pytest.raises(EvidenceFormatError, match="only simulated evidence"):
        replace(DOCUMENT, tee=Tee.SGX)


def test_schema_agrees_with_the_parser_on_rejections() -> None:
    for mutate in (
        lambda d: d.update(extra=1),
        lambda d: d.update(version=2),
        lambda d: d["app"].pop("security_config_digest"),
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads(_with(mutate)), SCHEMA)
    simulated_with_collateral = _json(DOCUMENT) | {"collateral": {}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(simulated_with_collateral, SCHEMA)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parser_raises_only_format_error(data: bytes) -> None:
    with contextlib.suppress(EvidenceFormatError):
        EvidenceDocument.from_json(data)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["tee", "quote", "runtime", "app", "deployment", "sealing", "version"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=10), st.lists(st.integers(), max_size=2)),
)
def test_parser_on_mutated_members(key: str, value: object) -> None:
    document = _json(DOCUMENT)
    document[key] = value
    with contextlib.suppress(EvidenceFormatError):
        EvidenceDocument.from_json(json.dumps(document).encode())


def test_base64_fields_are_standard_base64() -> None:
    document = _json(DOCUMENT)
    assert base64.b64decode(document["sealing"]["public_key"]) == SEALING_KEY
