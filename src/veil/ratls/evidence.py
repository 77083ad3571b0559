"""Verify an evidence.json document: its certificate, quote, policy, and that every claim in the
document equals what the attested enclave signed.

It lives in ``veil.ratls`` (not beside the model in ``veil.attestation.evidence``) because it
needs the RA-TLS reader, and ``ratls`` depends on ``attestation``, never the reverse.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from veil.attestation.collateral import Collateral
from veil.attestation.evidence import EvidenceDocument
from veil.attestation.policy import Policy
from veil.attestation.result import VerifiedQuote
from veil.attestation.verifier import VerifiedCollateral, VerifyOptions
from veil.errors import BindingError
from veil.ratls.claims import RatlsClaims, format_claim_time
from veil.ratls.extract import RatlsFormat, read_ratls_evidence
from veil.ratls.freshness import (
    MissingFreshnessError,
    NonceMismatchError,
    verify_freshness,
)
from veil.ratls.verify import VerifiedRatlsCertificate, verify_ratls_evidence

__all__ = [
    "EvidenceMismatchError",
    "VerifiedEvidence",
    "document_claims",
    "verify_evidence_document",
]


class EvidenceMismatchError(BindingError):
    """A field of evidence.json differs from what the attested certificate says."""


@dataclass(frozen=True, kw_only=True)
class VerifiedEvidence:
    """An evidence document whose certificate and quote verified and whose claims all match."""

    document: EvidenceDocument
    certificate: VerifiedRatlsCertificate
    #: The nonce the attested key signed an answer to; empty when the document answers none.
    nonce: bytes = b""

    @property
    def verified_quote(self) -> VerifiedQuote:
        return self.certificate.verified_quote


def _same(field: str, in_document: object, in_certificate: object) -> None:
    equal = (
        hmac.compare_digest(in_document, in_certificate)
        if isinstance(in_document, bytes) and isinstance(in_certificate, bytes)
        else in_document == in_certificate
    )
    if not equal:
        raise EvidenceMismatchError(
            f"evidence {field} is {_shown(in_document)} but the attested certificate says "
            f"{_shown(in_certificate)}"
        )


def _shown(value: object) -> str:
    # Bytes here are untrusted and can be kilobytes (a whole quote): name them by length and
    # digest, never by repr, so that the message stays one short line.
    if isinstance(value, bytes):
        return f"{len(value)} bytes (sha256 {hashlib.sha256(value).hexdigest()[:16]}…)"
    return repr(value)


def document_claims(document: EvidenceDocument) -> RatlsClaims:
    """What ``document`` says, in the form of the claims the enclave signs.

    Before verification it is only what the operator handed over; once
    :func:`verify_evidence_document` accepted the document, it equals the signed claims.
    """
    return RatlsClaims(
        app_name=document.app.name,
        app_fingerprint=document.app.fingerprint,
        security_config_digest=document.app.security_config_digest,
        runtime_version=document.runtime.version,
        runtime_digest=document.runtime.digest,
        instance_id=document.deployment.instance_id,
        port=document.deployment.port,
        created_at=document.deployment.created_at,
        tls_scenario=document.deployment.tls_scenario,
        tls_pin=document.deployment.tls_pin,
    )


def _certificate_names(certificate: x509.Certificate) -> frozenset[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    names = set(san.get_values_for_type(x509.DNSName))
    names.update(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return frozenset(names)


def _check_freshness(
    document: EvidenceDocument, certificate: x509.Certificate, expected_nonce: bytes | None
) -> bytes:
    """The nonce the certificate's key signed an answer to (empty if none was asked)."""
    deployment = document.deployment
    if expected_nonce is not None:
        if not deployment.nonce_signature:
            raise MissingFreshnessError(
                "a nonce was sent but the evidence carries no signature over it (a replay?)"
            )
        if not hmac.compare_digest(deployment.nonce, expected_nonce):
            raise NonceMismatchError(
                "the evidence answers another nonce than the one sent (a replay?)"
            )
    if not deployment.nonce:
        return b""
    if not deployment.nonce_signature:
        raise MissingFreshnessError("evidence deployment.nonce comes without nonce_signature")
    verify_freshness(
        deployment.nonce_signature,
        certificate=certificate,
        nonce=deployment.nonce,
        instance_id=deployment.instance_id,
    )
    return deployment.nonce


def verify_evidence_document(
    document: EvidenceDocument,
    *,
    policy: Policy,
    now: datetime,
    collateral: Collateral | VerifiedCollateral | None = None,
    simulation_root_public_key: bytes | None = None,
    expected_nonce: bytes | None = None,
    options: VerifyOptions | None = None,
) -> VerifiedEvidence:
    """Verify ``document`` at ``now`` under ``policy``.

    ``collateral`` (e.g. fresher, from a PCCS) overrides the collateral embedded in the
    document. For simulated evidence the document's own root key is used unless
    ``simulation_root_public_key`` pins one — simulated evidence proves nothing either way and
    every default policy refuses it.

    Freshness: a document that states a nonce must carry the attested key's signature over it
    (``veil.ratls.freshness``); a verifier that sent ``expected_nonce`` also requires that the
    document answers exactly that nonce. The quote is made once per enclave key and says
    nothing about time.
    """
    evidence = read_ratls_evidence(document.ratls_certificate)
    if evidence.format is not RatlsFormat.VEIL or evidence.veil is None:
        raise EvidenceMismatchError(
            f"evidence.json needs a veil RA-TLS certificate, got the {evidence.format.value} format"
        )
    signed = evidence.veil
    claims = signed.claims
    _same("quote", document.quote, evidence.quote)
    _same("tee", document.tee, signed.tee)
    _same("sealing.public_key", document.sealing.public_key, signed.sealing_public_key)
    _same("sealing.suite", document.sealing.suite, signed.sealing_suite)
    _same("app.name", document.app.name, claims.app_name)
    _same("app.fingerprint", document.app.fingerprint, claims.app_fingerprint)
    _same(
        "app.security_config_digest",
        document.app.security_config_digest,
        claims.security_config_digest,
    )
    _same("runtime.version", document.runtime.version, claims.runtime_version)
    _same("runtime.digest", document.runtime.digest, claims.runtime_digest)
    _same("deployment.instance_id", document.deployment.instance_id, claims.instance_id)
    _same("deployment.port", document.deployment.port, claims.port)
    # The same instant, compared in the claim's canonical spelling (UTC, Z).
    _same(
        "deployment.created_at",
        format_claim_time(document.deployment.created_at),
        format_claim_time(claims.created_at),
    )
    _same("deployment.tls_scenario", document.deployment.tls_scenario, claims.tls_scenario)
    _same("deployment.tls_pin", document.deployment.tls_pin, claims.tls_pin)
    _same(
        "deployment.sans",
        sorted(set(document.deployment.sans)),
        sorted(_certificate_names(evidence.certificate)),
    )

    root = document.simulation_root_public_key
    if simulation_root_public_key is not None:
        if root is not None:
            _same("simulation_root_public_key", root, simulation_root_public_key)
        root = simulation_root_public_key
    verified = verify_ratls_evidence(
        evidence,
        policy=policy,
        now=now,
        collateral=collateral if collateral is not None else document.collateral,
        simulation_root_public_key=root,
        options=options,
    )
    # After the certificate verified: the signature only means something from an attested key.
    nonce = _check_freshness(document, evidence.certificate, expected_nonce)
    return VerifiedEvidence(document=document, certificate=verified, nonce=nonce)
