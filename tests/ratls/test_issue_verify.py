from __future__ import annotations

import contextlib
from datetime import timedelta

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ratls._certs import (
    CLAIMS,
    MEASUREMENT,
    NOW,
    ROOT,
    claims,
    pem,
    self_signed,
    simulated_quote_fn,
    spki,
)
from veil.attestation.errors import PolicyError, QuoteVerificationError
from veil.attestation.policy import SimulatedMeasurement, default_policy
from veil.attestation.result import Tee
from veil.attestation.simulated import SimulationRoot
from veil.ratls.errors import CertificateValidityError, RatlsBindingError, RatlsFormatError
from veil.ratls.extension import VeilEvidence
from veil.ratls.extract import RatlsFormat, read_ratls_evidence
from veil.ratls.issue import issue_ratls_certificate
from veil.ratls.oids import VEIL_EVIDENCE_OID
from veil.ratls.report_data import ratls_report_data
from veil.ratls.verify import verify_ratls_certificate

SEALING_KEY = b"S" * 32
SIM_POLICY = default_policy(
    expected=[SimulatedMeasurement(MEASUREMENT)], allow_simulated_insecure=True
)


def _issue(key: ec.EllipticCurvePrivateKey | None = None, **kwargs: object) -> bytes:
    issued = issue_ratls_certificate(
        key or ec.generate_private_key(ec.SECP256R1()),
        quote_fn=simulated_quote_fn(),
        sealing_public_key=SEALING_KEY,
        sealing_suite="x25519",
        sans=["app.example", "127.0.0.1"],
        now=NOW,
        claims=CLAIMS,
        **kwargs,  # type: ignore[arg-type]
    )
    return issued.pem


def test_issue_then_verify_roundtrip() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue_ratls_certificate(
        key,
        quote_fn=simulated_quote_fn(),
        sealing_public_key=SEALING_KEY,
        sealing_suite="x25519",
        sans=["app.example", "127.0.0.1"],
        now=NOW,
        nonce=b"fresh",
        claims=CLAIMS,
    )
    assert issued.report_data == ratls_report_data(spki(key), SEALING_KEY, nonce=b"fresh")
    verified = verify_ratls_certificate(
        issued.der,
        policy=SIM_POLICY,
        now=NOW,
        simulation_root_public_key=ROOT.public_key_bytes(),
        expected_nonce=b"fresh",
    )
    assert verified.format is RatlsFormat.VEIL
    assert verified.verified_quote.tee is Tee.SIMULATED
    assert verified.sealing_public_key == SEALING_KEY
    assert verified.sealing_suite == "x25519"
    assert verified.claims == CLAIMS
    assert verified.public_key_der == spki(key)
    san = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["app.example"]
    ext = issued.certificate.extensions.get_extension_for_oid(VEIL_EVIDENCE_OID)
    assert ext.critical is False


def test_simulated_certificate_refused_by_default_policy() -> None:
    with pytest.raises(PolicyError, match="rule simulated"):
        verify_ratls_certificate(
            _issue(),
            policy=default_policy(),
            now=NOW,
            simulation_root_public_key=ROOT.public_key_bytes(),
        )


def test_debug_simulated_certificate_refused() -> None:
    issued = issue_ratls_certificate(
        ec.generate_private_key(ec.SECP256R1()),
        quote_fn=simulated_quote_fn(debug=True),
        sealing_public_key=SEALING_KEY,
        sealing_suite="x25519",
        sans=[],
        now=NOW,
        claims=CLAIMS,
    )
    with pytest.raises(PolicyError, match="rule debug"):
        verify_ratls_certificate(
            issued.pem,
            policy=SIM_POLICY,
            now=NOW,
            simulation_root_public_key=ROOT.public_key_bytes(),
        )


def test_other_simulation_root_refused() -> None:
    with pytest.raises(QuoteVerificationError, match="different simulation root"):
        verify_ratls_certificate(
            _issue(),
            policy=SIM_POLICY,
            now=NOW,
            simulation_root_public_key=SimulationRoot.generate().public_key_bytes(),
        )


def test_wrong_measurement_refused() -> None:
    policy = default_policy(
        expected=[SimulatedMeasurement(bytes(48))], allow_simulated_insecure=True
    )
    with pytest.raises(PolicyError, match="rule measurement"):
        verify_ratls_certificate(
            _issue(), policy=policy, now=NOW, simulation_root_public_key=ROOT.public_key_bytes()
        )


# --- attacks on the binding ------------------------------------------------------------------


def _evidence_of(certificate_pem: bytes) -> VeilEvidence:
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    value = certificate.extensions.get_extension_for_oid(VEIL_EVIDENCE_OID).value
    assert isinstance(value, x509.UnrecognizedExtension)
    return VeilEvidence.from_cbor(value.value)


def test_quote_replayed_into_a_certificate_for_another_key_is_refused() -> None:
    stolen = _evidence_of(_issue())
    attacker = ec.generate_private_key(ec.SECP256R1())
    forged = self_signed(attacker, [(VEIL_EVIDENCE_OID, stolen.to_cbor())])
    with pytest.raises(RatlsBindingError, match="does not bind this certificate's key"):
        read_ratls_evidence(pem(forged))


def test_swapped_sealing_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    evidence = _evidence_of(_issue(key))
    swapped = VeilEvidence(
        tee=evidence.tee,
        quote=evidence.quote,
        sealing_public_key=b"A" * 32,  # the operator's key instead of the enclave's
        sealing_suite=evidence.sealing_suite,
        claims=evidence.claims,
    )
    # Even re-signed with the enclave's own key (worst case), the binding fails.
    forged = self_signed(key, [(VEIL_EVIDENCE_OID, swapped.to_cbor())])
    with pytest.raises(RatlsBindingError):
        read_ratls_evidence(pem(forged))


def test_dropped_nonce_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    evidence = _evidence_of(_issue(key, nonce=b"n1"))
    stripped = VeilEvidence(
        tee=evidence.tee,
        quote=evidence.quote,
        sealing_public_key=evidence.sealing_public_key,
        sealing_suite=evidence.sealing_suite,
        claims=evidence.claims,
    )
    with pytest.raises(RatlsBindingError):
        read_ratls_evidence(pem(self_signed(key, [(VEIL_EVIDENCE_OID, stripped.to_cbor())])))


def test_unexpected_nonce_is_refused() -> None:
    with pytest.raises(RatlsBindingError, match="expected nonce"):
        verify_ratls_certificate(
            _issue(nonce=b"old"),
            policy=SIM_POLICY,
            now=NOW,
            simulation_root_public_key=ROOT.public_key_bytes(),
            expected_nonce=b"new",
        )


def test_mislabelled_tee_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    evidence = _evidence_of(_issue(key))
    item = cbor2.loads(evidence.to_cbor())
    item["tee"] = "sgx"
    forged = self_signed(key, [(VEIL_EVIDENCE_OID, cbor2.dumps(item, canonical=True))])
    with pytest.raises(RatlsBindingError, match="says tee sgx, the quote is simulated"):
        read_ratls_evidence(pem(forged))


def test_claims_changed_by_someone_without_the_key_break_the_signature() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    evidence = _evidence_of(_issue(key))
    changed = VeilEvidence(
        tee=evidence.tee,
        quote=evidence.quote,
        sealing_public_key=evidence.sealing_public_key,
        sealing_suite=evidence.sealing_suite,
        claims=claims(app_fingerprint="sha256:" + "ff" * 32),
    )
    # Same public key (binding holds) but signed by the attacker's key.
    forged = self_signed(
        key,
        [(VEIL_EVIDENCE_OID, changed.to_cbor())],
        signer=ec.generate_private_key(ec.SECP256R1()),
    )
    with pytest.raises(CertificateValidityError, match="not validly self-signed"):
        verify_ratls_certificate(
            pem(forged),
            policy=SIM_POLICY,
            now=NOW,
            simulation_root_public_key=ROOT.public_key_bytes(),
        )


def test_expired_and_not_yet_valid_certificates_are_refused() -> None:
    certificate = _issue(validity=timedelta(days=1))
    for when in (NOW + timedelta(days=2), NOW - timedelta(hours=1)):
        with pytest.raises(CertificateValidityError, match="not valid at"):
            verify_ratls_certificate(
                certificate,
                policy=SIM_POLICY,
                now=when,
                simulation_root_public_key=ROOT.public_key_bytes(),
            )


def test_backend_returning_a_quote_over_other_data_is_refused() -> None:
    honest = simulated_quote_fn()
    with pytest.raises(ValueError, match="different report_data"):
        issue_ratls_certificate(
            ec.generate_private_key(ec.SECP256R1()),
            quote_fn=lambda report_data: honest(bytes(64)),
            sealing_public_key=SEALING_KEY,
            sealing_suite="x25519",
            sans=[],
            now=NOW,
            claims=CLAIMS,
        )


def test_only_p256_keys_are_issued() -> None:
    with pytest.raises(ValueError, match="P-256"):
        issue_ratls_certificate(
            ec.generate_private_key(ec.SECP384R1()),
            quote_fn=simulated_quote_fn(),
            sealing_public_key=SEALING_KEY,
            sealing_suite="x25519",
            sans=[],
            now=NOW,
            claims=CLAIMS,
        )


def test_garbage_and_truncated_input_are_format_errors() -> None:
    certificate = x509.load_pem_x509_certificate(_issue())
    der = certificate.public_bytes(serialization.Encoding.DER)
    for bad in (b"", b"garbage", der[: len(der) // 2], der[:-1]):
        with pytest.raises(RatlsFormatError):
            read_ratls_evidence(bad)


_VALID_DER = x509.load_pem_x509_certificate(_issue()).public_bytes(serialization.Encoding.DER)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_reader_on_noise_raises_only_format_error(data: bytes) -> None:
    with contextlib.suppress(RatlsFormatError):
        read_ratls_evidence(data)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=len(_VALID_DER) - 1), st.integers(1, 255))
def test_reader_on_flipped_certificate_raises_only_typed_errors(offset: int, mask: int) -> None:
    mutated = bytearray(_VALID_DER)
    mutated[offset] ^= mask
    with contextlib.suppress(RatlsFormatError, RatlsBindingError):
        read_ratls_evidence(bytes(mutated))
