"""The pinned root, certificate chains and CRLs, attacked with a synthetic Intel-named PKI."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.attestation.synthetic_pki import PkiOptions, SyntheticPki, intel_name, raw_signature
from veil.attestation.collateral import Collateral
from veil.attestation.errors import CollateralExpiredError, QuoteVerificationError
from veil.attestation.pki import (
    ValidityWindow,
    check_windows,
    load_pem_chain,
    verify_chain,
    verify_crl,
)
from veil.attestation.quote import Quote, parse_quote
from veil.attestation.result import TcbStatus, VerifiedQuote
from veil.attestation.roots import (
    INTEL_SGX_ROOT,
    INTEL_SGX_ROOT_CA_CERT_SHA256,
    INTEL_SGX_ROOT_CA_PUBLIC_KEY,
    TrustAnchor,
)
from veil.attestation.verifier import verify_quote

NOW = datetime(2025, 6, 27, tzinfo=UTC)


@pytest.fixture(scope="module")
def base_quote(vectors_dir: Path) -> Quote:
    return parse_quote((vectors_dir / "phala-dcap-qvl" / "sgx_quote").read_bytes())


@pytest.fixture(scope="module")
def pki() -> SyntheticPki:
    return SyntheticPki.generate(now=NOW)


@pytest.fixture(scope="module")
def synthetic_quote(pki: SyntheticPki, base_quote: Quote) -> bytes:
    return pki.resign(base_quote)


@pytest.fixture(scope="module")
def real_collateral(vectors_dir: Path) -> Collateral:
    return Collateral.from_dcap_qvl_json(
        (vectors_dir / "phala-dcap-qvl" / "sgx_quote_collateral.json").read_bytes()
    )


def _verify(pki: SyntheticPki, quote: bytes, options: PkiOptions | None = None) -> VerifiedQuote:
    collateral = pki.collateral(parse_quote(quote), options or PkiOptions())
    return verify_quote(quote, collateral, now=NOW, trust_anchor_for_testing=pki.root_public_key)


def _step(pki: SyntheticPki, quote: bytes, options: PkiOptions) -> QuoteVerificationError:
    with pytest.raises(QuoteVerificationError) as caught:
        _verify(pki, quote, options)
    return caught.value


# ----- the pin -------------------------------------------------------------------------------


def test_pinned_key_is_the_key_of_intels_published_root(vectors_dir: Path) -> None:
    der = (vectors_dir / "phala-dcap-qvl" / "TrustedRootCA.der").read_bytes()
    assert hashlib.sha256(der).digest() == INTEL_SGX_ROOT_CA_CERT_SHA256
    key = x509.load_der_x509_certificate(der).public_key()
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert point == INTEL_SGX_ROOT_CA_PUBLIC_KEY == INTEL_SGX_ROOT.public_key_bytes


def test_trust_anchor_refuses_what_is_not_a_p256_point() -> None:
    with pytest.raises(ValueError, match="65-byte"):
        TrustAnchor(b"\x04" + bytes(10), "bad")


def test_synthetic_pki_verifies_only_with_its_test_anchor(
    pki: SyntheticPki, synthetic_quote: bytes
) -> None:
    verified = _verify(pki, synthetic_quote)
    assert verified.tcb_status is TcbStatus.UP_TO_DATE
    collateral = pki.collateral(parse_quote(synthetic_quote))
    with pytest.raises(QuoteVerificationError) as caught:
        verify_quote(synthetic_quote, collateral, now=NOW)
    assert caught.value.step == "2.4"
    assert "pinned Intel SGX Root CA" in str(caught.value)


def test_forged_chain_with_every_intel_name_resigning_tcb_info_fails_at_the_pinned_root(
    pki: SyntheticPki, real_collateral: Collateral, vectors_dir: Path
) -> None:
    """Real quote, real Intel PCK CRLs; only the TCB info is re-signed by a forged 'Intel SGX
    TCB Signing' certificate under a forged 'Intel SGX Root CA'."""
    real_quote = (vectors_dir / "phala-dcap-qvl" / "sgx_quote").read_bytes()
    tcb_info = real_collateral.tcb_info.replace(
        b'"tcbStatus":"OutOfDate"', b'"tcbStatus":"UpToDate"'
    )
    forged = pki.collateral(parse_quote(real_quote))
    chain = pki.tcb_signer.public_bytes(serialization.Encoding.PEM) + pki.root.public_bytes(
        serialization.Encoding.PEM
    )
    assert pki.root.subject == intel_name("Intel SGX Root CA")
    collateral = dataclasses.replace(
        real_collateral,
        tcb_info=tcb_info,
        tcb_info_signature=raw_signature(pki.tcb_signer_key, tcb_info),
        tcb_info_issuer_chain=chain,
        qe_identity=forged.qe_identity,
        qe_identity_signature=forged.qe_identity_signature,
        qe_identity_issuer_chain=forged.qe_identity_issuer_chain,
    )
    with pytest.raises(QuoteVerificationError) as caught:
        verify_quote(real_quote, collateral, now=NOW)
    assert caught.value.step == "6.1"
    assert "pinned" in str(caught.value)


def test_quote_certified_by_a_forged_pck_chain_fails_at_the_pinned_root(
    synthetic_quote: bytes, real_collateral: Collateral
) -> None:
    with pytest.raises(QuoteVerificationError) as caught:
        verify_quote(synthetic_quote, real_collateral, now=NOW)
    assert caught.value.step == "2.2"
    assert "pinned" in str(caught.value)


# ----- revocation and CRLs --------------------------------------------------------------------


def test_revoked_pck_leaf_is_refused(pki: SyntheticPki, synthetic_quote: bytes) -> None:
    error = _step(pki, synthetic_quote, PkiOptions(revoke_pck_leaf=True))
    assert (error.step, error.detail) == ("2.8", "the PCK certificate is revoked")


def test_revoked_pck_ca_is_refused(pki: SyntheticPki, synthetic_quote: bytes) -> None:
    error = _step(pki, synthetic_quote, PkiOptions(revoke_pck_ca=True))
    assert error.step == "2.8"
    assert "revoked" in error.detail


def test_pck_crl_signed_by_the_wrong_key_is_refused(
    pki: SyntheticPki, synthetic_quote: bytes
) -> None:
    wrong = ec.generate_private_key(ec.SECP256R1())
    error = _step(pki, synthetic_quote, PkiOptions(pck_crl_signer=wrong))
    assert (error.step, error.detail) == ("2.6", "PCK CRL has an invalid signature")


def test_root_crl_signed_by_the_wrong_key_is_refused(
    pki: SyntheticPki, synthetic_quote: bytes
) -> None:
    wrong = ec.generate_private_key(ec.SECP256R1())
    error = _step(pki, synthetic_quote, PkiOptions(root_crl_signer=wrong))
    assert (error.step, error.detail) == ("2.5", "root CA CRL has an invalid signature")


def test_expired_crl_is_refused(pki: SyntheticPki, synthetic_quote: bytes) -> None:
    with pytest.raises(CollateralExpiredError) as caught:
        _verify(pki, synthetic_quote, PkiOptions(crl_lifetime=timedelta(seconds=-1)))
    assert caught.value.step == "2.7"


def test_crl_whose_this_update_is_after_now_is_accepted_like_dcap_qvl(
    pki: SyntheticPki, synthetic_quote: bytes
) -> None:
    collateral = pki.collateral(parse_quote(synthetic_quote))
    # The synthetic CRLs were issued at NOW - 1 day; verify two days earlier.
    earlier = NOW - timedelta(days=2)
    with pytest.raises(CollateralExpiredError) as caught:
        verify_quote(synthetic_quote, collateral, now=earlier,
                     trust_anchor_for_testing=pki.root_public_key)  # fmt: skip
    # What fails is the TCB info's issueDate, never the CRLs' thisUpdate.
    assert caught.value.step == "6.4"


def test_collateral_for_another_kind_of_tee(pki: SyntheticPki, synthetic_quote: bytes) -> None:
    assert _step(pki, synthetic_quote, PkiOptions(tcb_info_id="TDX")).step == "7.3"
    assert _step(pki, synthetic_quote, PkiOptions(qe_identity_id="TD_QE")).step == "7.4"


def test_revoked_tcb_level_is_an_error_not_a_status(
    pki: SyntheticPki, synthetic_quote: bytes
) -> None:
    assert _step(pki, synthetic_quote, PkiOptions(tcb_status="Revoked")).step == "10.1"


# ----- chain rules, one by one -----------------------------------------------------------------


def _cert(
    subject: str,
    issuer: str,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool | None,
    path_length: int | None = None,
    algorithm: hashes.SHA256 | hashes.SHA384 | None = None,
    critical_extra: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(intel_name(subject))
        .issuer_name(intel_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), True)
    if critical_extra:
        builder = builder.add_extension(x509.OCSPNoCheck(), True)
    return builder.sign(signer, algorithm or hashes.SHA256())


@pytest.fixture(scope="module")
def keys() -> tuple[ec.EllipticCurvePrivateKey, ...]:
    return tuple(ec.generate_private_key(ec.SECP256R1()) for _ in range(3))


def _anchor(key: ec.EllipticCurvePrivateKey) -> TrustAnchor:
    return TrustAnchor.for_testing(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def _chain_error(
    chain: list[x509.Certificate], anchor: TrustAnchor, *, leaf_is_ca: bool = False
) -> str:
    with pytest.raises(QuoteVerificationError) as caught:
        verify_chain(chain, anchor=anchor, step="9.9", what="test chain", leaf_is_ca=leaf_is_ca)
    assert caught.value.step == "9.9"
    return caught.value.detail


def test_chain_rules(keys: tuple[ec.EllipticCurvePrivateKey, ...]) -> None:
    root_key, ca_key, leaf_key = keys
    anchor = _anchor(root_key)
    root = _cert("Root", "Root", root_key, root_key, ca=True, path_length=1)
    ca = _cert("CA", "Root", ca_key, root_key, ca=True, path_length=0)
    leaf = _cert("Leaf", "CA", leaf_key, ca_key, ca=False)
    known = verify_chain([leaf, ca, root], anchor=anchor, step="9.9", what="test chain")
    assert known.issued == {leaf, ca}
    assert known.anchors == {root}

    assert "pinned" in _chain_error([leaf, ca], _anchor(root_key))  # ends at the CA's key
    assert "not an end entity" in _chain_error(
        [_cert("Leaf", "CA", leaf_key, ca_key, ca=True), ca, root], anchor
    )
    assert "not an end entity" in _chain_error([ca, root], anchor)
    assert "not a CA" in _chain_error([leaf, ca, root], anchor, leaf_is_ca=True)
    not_ca = _cert("CA", "Root", ca_key, root_key, ca=False)
    assert "not a CA" in _chain_error([leaf, not_ca, root], anchor)
    no_constraints = _cert("CA", "Root", ca_key, root_key, ca=None)
    assert "not a CA" in _chain_error([leaf, no_constraints, root], anchor)
    tight_root = _cert("Root", "Root", root_key, root_key, ca=True, path_length=0)
    assert "path length" in _chain_error([leaf, ca, tight_root], anchor)
    sha384 = _cert("Leaf", "CA", leaf_key, ca_key, ca=False, algorithm=hashes.SHA384())
    assert "ECDSA-SHA256" in _chain_error([sha384, ca, root], anchor)
    wrong_issuer = _cert("Leaf", "Someone", leaf_key, ca_key, ca=False)
    assert "not issued by" in _chain_error([wrong_issuer, ca, root], anchor)
    forged = _cert("Leaf", "CA", leaf_key, leaf_key, ca=False)
    assert "invalid signature" in _chain_error([forged, ca, root], anchor)
    critical = _cert("Leaf", "CA", leaf_key, ca_key, ca=False, critical_extra=True)
    assert "critical extension" in _chain_error([critical, ca, root], anchor)
    assert "pinned" in _chain_error([root, ca, leaf], anchor)  # wrong order


def test_load_pem_chain_limits(pki: SyntheticPki) -> None:
    with pytest.raises(QuoteVerificationError, match="cannot be parsed"):
        load_pem_chain(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                       step="2.1", what="chain")  # fmt: skip
    one = pki.root.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(QuoteVerificationError, match="1 certificates"):
        load_pem_chain(one, step="2.1", what="chain")
    with pytest.raises(QuoteVerificationError, match="5 certificates"):
        load_pem_chain(one * 5, step="2.1", what="chain")
    assert len(load_pem_chain(one * 2 + b"\0", step="2.1", what="chain")) == 2


def test_crl_rules(pki: SyntheticPki) -> None:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.pck_ca.subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=1))
    )
    good = builder.sign(pki.pck_ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    verified = verify_crl(good, issuer=pki.pck_ca, step="2.6", what="CRL")
    assert not verified.is_revoked(pki.pck.serial_number)
    with pytest.raises(QuoteVerificationError, match="not issued by"):
        verify_crl(good, issuer=pki.root, step="2.6", what="CRL")
    sha384 = builder.sign(pki.pck_ca_key, hashes.SHA384()).public_bytes(serialization.Encoding.DER)
    with pytest.raises(QuoteVerificationError, match="ECDSA-SHA256"):
        verify_crl(sha384, issuer=pki.pck_ca, step="2.6", what="CRL")
    with pytest.raises(QuoteVerificationError, match="cannot be parsed"):
        verify_crl(b"\x30\x03\x02\x01\x00", issuer=pki.pck_ca, step="2.6", what="CRL")
    without_next = (
        x509.CertificateRevocationListBuilder().issuer_name(pki.pck_ca.subject).last_update(NOW)
    )
    with pytest.raises((QuoteVerificationError, ValueError)):
        verify_crl(
            without_next.sign(pki.pck_ca_key, hashes.SHA256()).public_bytes(
                serialization.Encoding.DER
            ),
            issuer=pki.pck_ca,
            step="2.6",
            what="CRL",
        )


def test_validity_windows() -> None:
    window = ValidityWindow("6.4", "TCB info", NOW, NOW + timedelta(days=1))
    assert window.contains(NOW)
    assert window.contains(NOW + timedelta(days=1))
    assert not window.contains(NOW - timedelta(seconds=1))
    assert check_windows([window], NOW, allow_expired=False) is False
    assert check_windows([window], NOW - timedelta(seconds=1), allow_expired=True) is True
    with pytest.raises(CollateralExpiredError, match=r"step 6\.4: TCB info is not valid"):
        check_windows([window], NOW + timedelta(days=2), allow_expired=False)
    open_start = ValidityWindow("2.7", "CRL", None, NOW)
    assert open_start.contains(datetime(2000, 1, 1, tzinfo=UTC))
