"""Verify an RA-TLS certificate: key binding, self-signature, validity, quote and policy."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from veil.attestation.api import verify_attestation
from veil.attestation.collateral import Collateral
from veil.attestation.policy import Policy
from veil.attestation.result import VerifiedQuote
from veil.attestation.verifier import VerifiedCollateral, VerifyOptions
from veil.ratls.errors import CertificateValidityError, RatlsBindingError
from veil.ratls.extension import RatlsClaims
from veil.ratls.extract import RatlsEvidence, RatlsFormat, read_ratls_evidence

__all__ = [
    "VerifiedRatlsCertificate",
    "check_certificate",
    "verify_ratls_certificate",
    "verify_ratls_evidence",
]


@dataclass(frozen=True, kw_only=True)
class VerifiedRatlsCertificate:
    """An RA-TLS certificate whose quote verified, binds its key, and satisfied the policy."""

    verified_quote: VerifiedQuote
    format: RatlsFormat
    certificate: x509.Certificate
    #: DER SubjectPublicKeyInfo of the attested TLS key.
    public_key_der: bytes
    #: veil format only: the attested HPKE sealing key (raw), its suite, nonce and claims.
    sealing_public_key: bytes | None = None
    sealing_suite: str | None = None
    nonce: bytes = b""
    claims: RatlsClaims | None = None


def check_certificate(certificate: x509.Certificate, *, now: datetime) -> None:
    """RA-TLS certificates are self-signed by the attested key: check that signature (it is what
    makes the extension's other fields statements of the enclave) and the validity window."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as e:
        raise CertificateValidityError(
            "the RA-TLS certificate is not validly self-signed by its own key"
        ) from e
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise CertificateValidityError(
            f"the RA-TLS certificate is not valid at {now.isoformat()} (valid "
            f"{certificate.not_valid_before_utc.isoformat()} → "
            f"{certificate.not_valid_after_utc.isoformat()})"
        )


def verify_ratls_certificate(
    certificate: bytes | x509.Certificate,
    *,
    policy: Policy,
    now: datetime,
    collateral: Collateral | VerifiedCollateral | None = None,
    simulation_root_public_key: bytes | None = None,
    expected_nonce: bytes | None = None,
    options: VerifyOptions | None = None,
) -> VerifiedRatlsCertificate:
    """Verify ``certificate`` (PEM, DER or parsed) and return what it attests.

    Steps: (1) parse and find the evidence extension by OID; (2) check the format's key binding;
    (3) self-signature and validity at ``now``; (4) the expected nonce, if any (veil format);
    (5) verify the quote (DCAP with ``collateral``, or simulated with its root); (6) ``policy``.
    """
    evidence = read_ratls_evidence(certificate)
    return verify_ratls_evidence(
        evidence,
        policy=policy,
        now=now,
        collateral=collateral,
        simulation_root_public_key=simulation_root_public_key,
        expected_nonce=expected_nonce,
        options=options,
    )


def verify_ratls_evidence(
    evidence: RatlsEvidence,
    *,
    policy: Policy,
    now: datetime,
    collateral: Collateral | VerifiedCollateral | None = None,
    simulation_root_public_key: bytes | None = None,
    expected_nonce: bytes | None = None,
    options: VerifyOptions | None = None,
) -> VerifiedRatlsCertificate:
    """Steps 3–6 of :func:`verify_ratls_certificate` for evidence already read and bound."""
    check_certificate(evidence.certificate, now=now)
    if expected_nonce is not None:
        if evidence.veil is None:
            raise RatlsBindingError(
                f"a nonce was expected but the {evidence.format.value} format carries none"
            )
        if not hmac.compare_digest(evidence.veil.nonce, expected_nonce):
            raise RatlsBindingError("the certificate's quote is not over the expected nonce")
    verified = verify_attestation(
        evidence.quote,
        collateral=collateral,
        simulation_root_public_key=simulation_root_public_key,
        now=now,
        options=options,
    )
    policy.check(verified)
    veil = evidence.veil
    return VerifiedRatlsCertificate(
        verified_quote=verified,
        format=evidence.format,
        certificate=evidence.certificate,
        public_key_der=evidence.public_key_der,
        sealing_public_key=veil.sealing_public_key if veil else None,
        sealing_suite=veil.sealing_suite if veil else None,
        nonce=veil.nonce if veil else b"",
        claims=veil.claims if veil else None,
    )
