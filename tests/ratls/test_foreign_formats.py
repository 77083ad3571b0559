"""Gramine (legacy and TCG DICE) and Cosmian RA-TLS certificates: real vectors, then synthetic ones
built on simulated quotes to attack each format's key binding."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.ratls._certs import MEASUREMENT, NOW, PLATFORM_ID, ROOT, pem, self_signed, spki
from veil.attestation.collateral import load_collateral
from veil.attestation.errors import PolicyError, QuoteVerificationError
from veil.attestation.policy import default_policy
from veil.attestation.result import TcbStatus, Tee
from veil.attestation.simulated import issue_simulated_quote
from veil.ratls.errors import NoEvidenceError, RatlsBindingError, RatlsFormatError
from veil.ratls.extract import RatlsFormat, read_ratls_evidence
from veil.ratls.oids import (
    COSMIAN_SGX_QUOTE_OID,
    COSMIAN_TDX_QUOTE_OID,
    GRAMINE_LEGACY_QUOTE_OID,
    TCG_DICE_TAGGED_EVIDENCE_OID,
)
from veil.ratls.verify import verify_ratls_certificate

COSMIAN_AT = datetime(2023, 6, 24, 12, 34, 31, tzinfo=UTC)
COSMIAN_BUNDLE = "_assembled/cosmian_enclave_ratls_quote_extracted_bin/collateral.json"
#: Inside the validity window of the phala SGX collateral.
PHALA_AT = datetime.fromtimestamp(1751000000, UTC)


def _cosmian_cert(shared_vectors_dir: Path) -> bytes:
    document = json.loads((shared_vectors_dir / "cosmian-enclave/evidence.json").read_text())
    return str(document["ratls_certificate"]).encode()


# --- real vectors ----------------------------------------------------------------------------


def test_cosmian_certificate_verifies_out_of_date(shared_vectors_dir: Path) -> None:
    collateral = load_collateral((shared_vectors_dir / COSMIAN_BUNDLE).read_bytes())
    verified = verify_ratls_certificate(
        _cosmian_cert(shared_vectors_dir),
        policy=default_policy(allow_tcb_statuses=[TcbStatus.OUT_OF_DATE]),
        now=COSMIAN_AT,
        collateral=collateral,
    )
    assert verified.format is RatlsFormat.COSMIAN
    assert verified.verified_quote.tee is Tee.SGX
    assert verified.verified_quote.tcb_status is TcbStatus.OUT_OF_DATE
    assert "INTEL-SA-00615" in verified.verified_quote.advisory_ids
    assert verified.sealing_public_key is None
    point = verified.certificate.public_key()
    assert isinstance(point, ec.EllipticCurvePublicKey)
    raw = point.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert hashlib.sha256(raw).hexdigest().startswith("8d88360e")


def test_cosmian_certificate_refused_by_the_default_policy(shared_vectors_dir: Path) -> None:
    collateral = load_collateral((shared_vectors_dir / COSMIAN_BUNDLE).read_bytes())
    with pytest.raises(PolicyError, match="TCB status is OutOfDate"):
        verify_ratls_certificate(
            _cosmian_cert(shared_vectors_dir),
            policy=default_policy(),
            now=COSMIAN_AT,
            collateral=collateral,
        )


def test_graphene_certificate_binds_but_is_refused(vectors_dir: Path) -> None:
    data = (vectors_dir / "bytedance-fedlearner/graphene_ratls_cert.pem").read_bytes()
    evidence = read_ratls_evidence(data)  # binding: report_data[0:32] = SHA-256(SPKI), RSA key
    assert evidence.format is RatlsFormat.GRAMINE_LEGACY
    assert evidence.quote_info.debug is True
    assert (
        evidence.quote
        == (vectors_dir / "bytedance-fedlearner/graphene_ratls_quote_extracted.bin").read_bytes()
    )
    # Its PCK chain ends at Intel's SBX (pre-production) root, not the pinned production key:
    # refused before any collateral is looked at, so any real SGX collateral will do.
    collateral = load_collateral(
        (vectors_dir / "phala-dcap-qvl/sgx_quote_collateral.json").read_bytes()
    )
    with pytest.raises(QuoteVerificationError, match="pinned Intel SGX Root CA"):
        verify_ratls_certificate(data, policy=default_policy(), now=PHALA_AT, collateral=collateral)


def test_truncated_gramine_certificate_is_a_format_error(shared_vectors_dir: Path) -> None:
    data = (shared_vectors_dir / "gramine-ratls-mccoysc/gramine_ratls_cert.pem").read_bytes()
    with pytest.raises(RatlsFormatError, match=r"not a parseable X\.509 certificate"):
        read_ratls_evidence(data)


def test_plain_web_pki_chain_has_no_evidence(shared_vectors_dir: Path) -> None:
    data = (shared_vectors_dir / "cosmian-enclave/cert.pem").read_bytes()
    with pytest.raises(NoEvidenceError, match="no attestation"):
        read_ratls_evidence(data)


# --- synthetic certificates in each foreign format ----------------------------------------------


def _quote_over(first_half: bytes) -> bytes:
    return issue_simulated_quote(
        ROOT,
        measurement=MEASUREMENT,
        image=bytes(48),
        report_data=first_half + bytes(32),
        platform_id=PLATFORM_ID,
        now=NOW,
    )


def _dice_extension(
    key: ec.EllipticCurvePrivateKey, *, alg: int = 1, digest: bytes | None = None
) -> bytes:
    entry = cbor2.dumps([alg, digest if digest is not None else hashlib.sha256(spki(key)).digest()])
    claims = cbor2.dumps({"pubkey-hash": entry, "nonce": b"x"})
    quote = _quote_over(hashlib.sha256(claims).digest())
    return cbor2.dumps(cbor2.CBORTag(60000, [quote, claims]))


def test_dice_binding_accepted_and_verified_with_a_simulation_root() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    certificate = pem(self_signed(key, [(TCG_DICE_TAGGED_EVIDENCE_OID, _dice_extension(key))]))
    evidence = read_ratls_evidence(certificate)
    assert evidence.format is RatlsFormat.GRAMINE_DICE
    verified = verify_ratls_certificate(
        certificate,
        policy=default_policy(allow_simulated_insecure=True),
        now=NOW,
        simulation_root_public_key=ROOT.public_key_bytes(),
    )
    assert verified.verified_quote.tee is Tee.SIMULATED


def test_dice_preferred_over_legacy_when_both_present() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    legacy = _quote_over(hashlib.sha256(spki(key)).digest())
    certificate = self_signed(
        key,
        [(GRAMINE_LEGACY_QUOTE_OID, legacy), (TCG_DICE_TAGGED_EVIDENCE_OID, _dice_extension(key))],
    )
    assert read_ratls_evidence(pem(certificate)).format is RatlsFormat.GRAMINE_DICE


def test_dice_pubkey_hash_of_another_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    other = ec.generate_private_key(ec.SECP384R1())
    certificate = self_signed(key, [(TCG_DICE_TAGGED_EVIDENCE_OID, _dice_extension(other))])
    with pytest.raises(RatlsBindingError, match="pubkey-hash claim does not match"):
        read_ratls_evidence(pem(certificate))


def test_dice_claims_not_covered_by_the_quote_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    tagged = cbor2.loads(_dice_extension(key))
    quote, _claims = tagged.value
    swapped = cbor2.dumps({"pubkey-hash": cbor2.dumps([1, hashlib.sha256(spki(key)).digest()])})
    value = cbor2.dumps(cbor2.CBORTag(60000, [quote, swapped]))
    with pytest.raises(RatlsBindingError, match="SHA-256 of the DICE claims"):
        read_ratls_evidence(pem(self_signed(key, [(TCG_DICE_TAGGED_EVIDENCE_OID, value)])))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (cbor2.dumps(cbor2.CBORTag(60001, [b"q", b"c"])), "not CBOR tag 60000"),
        (cbor2.dumps(cbor2.CBORTag(60000, [b"q"])), r"\[quote, claims\]"),
        (cbor2.dumps(cbor2.CBORTag(60000, [b"q", b""])), "byte strings"),
        (b"\xff\x00", "not valid CBOR"),
    ],
)
def test_malformed_dice_evidence_is_a_format_error(value: bytes, message: str) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(RatlsFormatError, match=message):
        read_ratls_evidence(pem(self_signed(key, [(TCG_DICE_TAGGED_EVIDENCE_OID, value)])))


def test_dice_unknown_hash_algorithm_is_a_format_error() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    value = _dice_extension(key, alg=2)
    with pytest.raises(RatlsFormatError, match="hash algorithm id 2"):
        read_ratls_evidence(pem(self_signed(key, [(TCG_DICE_TAGGED_EVIDENCE_OID, value)])))


def test_gramine_legacy_binding_of_another_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    other = ec.generate_private_key(ec.SECP384R1())
    quote = _quote_over(hashlib.sha256(spki(other)).digest())
    with pytest.raises(RatlsBindingError, match="SubjectPublicKeyInfo"):
        read_ratls_evidence(pem(self_signed(key, [(GRAMINE_LEGACY_QUOTE_OID, quote)])))


@pytest.mark.parametrize("oid", [COSMIAN_SGX_QUOTE_OID, COSMIAN_TDX_QUOTE_OID], ids=["sgx", "tdx"])
def test_cosmian_binding_uses_the_raw_point(oid: object) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    good = self_signed(key, [(oid, _quote_over(hashlib.sha256(point).digest()))])  # type: ignore[list-item]
    assert read_ratls_evidence(pem(good)).format is RatlsFormat.COSMIAN
    # The SPKI hash (Gramine's rule) is not Cosmian's binding.
    bad = self_signed(key, [(oid, _quote_over(hashlib.sha256(spki(key)).digest()))])  # type: ignore[list-item]
    with pytest.raises(RatlsBindingError, match="EC public point"):
        read_ratls_evidence(pem(bad))


def test_unparseable_quote_in_a_foreign_extension_is_a_format_error() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(RatlsFormatError, match="Gramine quote extension"):
        read_ratls_evidence(pem(self_signed(key, [(GRAMINE_LEGACY_QUOTE_OID, b"\x03\x00junk")])))
