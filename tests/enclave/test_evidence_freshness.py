"""Evidence over a verifier's nonce: signed by the attested key, never a quote per request."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import REPO_ROOT
from tests.owner.conftest import NOTES, Packaged, make_instance, package_app
from veil.attestation.evidence import EvidenceDocument, EvidenceFormatError
from veil.attestation.policy import default_policy
from veil.enclave.instance import EnclaveInstance
from veil.errors import BindingError
from veil.owner.verify import verify_owner_evidence
from veil.ratls.evidence import VerifiedEvidence, verify_evidence_document
from veil.ratls.extension import MAX_NONCE_BYTES
from veil.ratls.freshness import (
    FRESHNESS_LABEL,
    FreshnessError,
    FreshnessSignatureError,
    MissingFreshnessError,
    NonceMismatchError,
    freshness_message,
    sign_freshness,
    verify_freshness,
)

NOW = datetime.now(UTC)
SCHEMA = json.loads((REPO_ROOT / "docs/schemas/evidence.schema.json").read_text())
INSECURE = default_policy(allow_simulated_insecure=True)
ASKED = b"\xa5" * 32
OTHER = b"\x5a" * 32


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    return package_app(NOTES, tmp_path_factory.mktemp("notes"))


@pytest.fixture(scope="module")
def instance(notes: Packaged) -> EnclaveInstance:
    return make_instance(notes.package)


def _verify(document: EvidenceDocument, expected_nonce: bytes | None) -> VerifiedEvidence:
    return verify_evidence_document(
        document, policy=INSECURE, now=NOW, expected_nonce=expected_nonce
    )


def _with(document: EvidenceDocument, **deployment: object) -> EvidenceDocument:
    return replace(document, deployment=replace(document.deployment, **deployment))  # type: ignore[arg-type]


def _certificate(document: EvidenceDocument) -> x509.Certificate:
    return x509.load_pem_x509_certificate(document.ratls_certificate)


# -- cost: no quote per request -----------------------------------------------------------------


def _count_quotes(instance: EnclaveInstance, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    quote: Callable[[bytes], bytes] = instance.backend.quote

    def counting(report_data: bytes) -> bytes:
        calls.append(report_data)
        return quote(report_data)

    monkeypatch.setattr(instance.backend, "quote", counting)
    return calls


def test_nonce_requests_make_no_quote(notes: Packaged, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DoS lever: an unauthenticated GET /_veil/evidence?nonce= must not reach the quoting
    enclave. The one quote is made at start, for the enclave's keys."""
    fresh = make_instance(notes.package)
    quotes = _count_quotes(fresh, monkeypatch)
    documents = [fresh.evidence_document(nonce=bytes([i]) * 32) for i in range(20)]
    assert quotes == []
    assert {d.ratls_certificate for d in documents} == {fresh.certificate.pem}
    for i, document in enumerate(documents):
        assert _verify(document, bytes([i]) * 32).nonce == bytes([i]) * 32


def test_owner_key_is_quoted_once_then_signs_nonces(
    notes: Packaged, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Owner-certificate scenario: binding the owner's key costs one quote, at provisioning;
    from then on that key answers nonces."""
    fresh = make_instance(notes.package)
    quotes = _count_quotes(fresh, monkeypatch)
    owner_key = ec.generate_private_key(ec.SECP256R1())
    assert fresh.bind_serving_key(owner_key)
    owner_spki = owner_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for i in range(20):
        document = fresh.evidence_document(nonce=bytes([i]) * 32)
        assert _verify(document, bytes([i]) * 32).certificate.public_key_der == owner_spki
    assert len(quotes) == 1


def test_evidence_without_a_nonce_carries_no_signature(instance: EnclaveInstance) -> None:
    document = instance.evidence_document()
    assert document.deployment.nonce == document.deployment.nonce_signature == b""
    assert _verify(document, None).nonce == b""


# -- attacks on freshness -----------------------------------------------------------------------


def test_answer_to_the_asked_nonce_verifies(instance: EnclaveInstance) -> None:
    document = EvidenceDocument.from_json(instance.evidence_json(nonce=ASKED))
    assert _verify(document, ASKED).nonce == ASKED


def test_replayed_answer_to_another_nonce_is_refused(instance: EnclaveInstance) -> None:
    """The operator keeps an old answer and serves it to a verifier who sent another nonce."""
    old = instance.evidence_document(nonce=OTHER)
    with pytest.raises(NonceMismatchError, match="answers another nonce"):
        _verify(old, ASKED)


def test_replayed_answer_with_the_nonce_rewritten_is_refused(instance: EnclaveInstance) -> None:
    """...and rewrites the nonce to the new one, keeping the old signature."""
    old = instance.evidence_document(nonce=OTHER)
    with pytest.raises(FreshnessSignatureError, match="not by the attested certificate's key"):
        _verify(_with(old, nonce=ASKED), ASKED)


def test_signature_by_another_key_is_refused(instance: EnclaveInstance) -> None:
    """The operator answers the nonce with its own key over the right message."""
    document = instance.evidence_document()
    forged = sign_freshness(
        ec.generate_private_key(ec.SECP256R1()),
        nonce=ASKED,
        instance_id=document.deployment.instance_id,
        certificate_der=instance.certificate.der,
    )
    with pytest.raises(FreshnessSignatureError):
        _verify(_with(document, nonce=ASKED, nonce_signature=forged), ASKED)


def test_answer_of_another_node_is_refused(notes: Packaged, instance: EnclaveInstance) -> None:
    """Another node (same package) answers the nonce; its signature is pasted into this
    node's evidence."""
    elsewhere = make_instance(notes.package).evidence_document(nonce=ASKED)
    document = _with(
        instance.evidence_document(),
        nonce=ASKED,
        nonce_signature=elsewhere.deployment.nonce_signature,
    )
    with pytest.raises(FreshnessSignatureError):
        _verify(document, ASKED)


def test_missing_signature_when_a_nonce_was_asked_is_refused(instance: EnclaveInstance) -> None:
    answered = instance.evidence_document(nonce=ASKED)
    with pytest.raises(MissingFreshnessError, match="no signature"):
        _verify(_with(answered, nonce_signature=b""), ASKED)
    # Or the cached document without any nonce, served to a verifier who asked one.
    with pytest.raises(MissingFreshnessError, match="no signature"):
        _verify(instance.evidence_document(), ASKED)


def test_stated_nonce_without_signature_is_refused(instance: EnclaveInstance) -> None:
    """A document that claims to answer a nonce proves it, even to a verifier who sent none."""
    answered = instance.evidence_document(nonce=ASKED)
    with pytest.raises(MissingFreshnessError, match="without nonce_signature"):
        _verify(_with(answered, nonce_signature=b""), None)


def test_owner_verification_checks_the_nonce(notes: Packaged, instance: EnclaveInstance) -> None:
    document = instance.evidence_document(nonce=ASKED)
    options = {"now": NOW, "allow_simulated_insecure": True}
    enclave = verify_owner_evidence(document, notes.package, expected_nonce=ASKED, **options)  # type: ignore[arg-type]
    assert enclave.evidence.nonce == ASKED
    with pytest.raises(NonceMismatchError):
        verify_owner_evidence(document, notes.package, expected_nonce=OTHER, **options)  # type: ignore[arg-type]


def test_freshness_errors_are_binding_errors() -> None:
    for error in (MissingFreshnessError, NonceMismatchError, FreshnessSignatureError):
        assert issubclass(error, FreshnessError)
        assert issubclass(error, BindingError)


# -- the signed message -------------------------------------------------------------------------


def test_message_is_domain_separated_and_length_prefixed() -> None:
    message = freshness_message(nonce=b"ab", instance_id="0" * 32, certificate_der=b"cert")
    assert message.startswith(FRESHNESS_LABEL)
    assert message[len(FRESHNESS_LABEL) :].startswith(b"\x02\x00\x00\x00ab\x20\x00\x00\x00")
    # Moving bytes between fields changes the message (the length prefixes).
    shifted = freshness_message(nonce=b"a", instance_id="0" * 32, certificate_der=b"cert")
    assert shifted != message


@pytest.mark.parametrize("nonce", [b"", b"n" * (MAX_NONCE_BYTES + 1)])
def test_nonce_size_is_bounded(nonce: bytes) -> None:
    with pytest.raises(ValueError, match="nonce"):
        freshness_message(nonce=nonce, instance_id="0" * 32, certificate_der=b"c")


def test_signature_binds_instance_and_certificate(instance: EnclaveInstance) -> None:
    document = instance.evidence_document(nonce=ASKED)
    signature = document.deployment.nonce_signature
    certificate = _certificate(document)
    verify_freshness(
        signature, certificate=certificate, nonce=ASKED, instance_id=instance.spec.instance_id
    )
    with pytest.raises(FreshnessSignatureError):
        verify_freshness(signature, certificate=certificate, nonce=ASKED, instance_id="f" * 32)


def test_signature_without_a_nonce_is_malformed(instance: EnclaveInstance) -> None:
    raw = json.loads(instance.evidence_json(nonce=ASKED))
    del raw["deployment"]["nonce"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, SCHEMA)
    with pytest.raises(EvidenceFormatError, match="nonce_signature: present without a nonce"):
        EvidenceDocument.from_json(json.dumps(raw).encode())


def test_served_answer_matches_the_schema(instance: EnclaveInstance) -> None:
    jsonschema.validate(json.loads(instance.evidence_json(nonce=ASKED)), SCHEMA)
