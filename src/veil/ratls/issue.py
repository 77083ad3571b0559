"""Issue a self-signed RA-TLS certificate inside the enclave, carrying veil's evidence extension."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from veil.attestation.api import parse_quote_info
from veil.ratls.extension import RatlsClaims, VeilEvidence
from veil.ratls.oids import VEIL_EVIDENCE_OID
from veil.ratls.report_data import ratls_report_data

__all__ = [
    "CLOCK_SKEW_ALLOWANCE",
    "DEFAULT_CERTIFICATE_VALIDITY",
    "IssuedCertificate",
    "issue_ratls_certificate",
]

#: How long an RA-TLS certificate is valid. Freshness does not rely on it: the quote's TCB
#: status is re-evaluated against current collateral at every verification.
DEFAULT_CERTIFICATE_VALIDITY: Final = timedelta(days=365)
#: ``notBefore`` is set this far before ``now`` so that verifiers with a slightly slow clock
#: accept a certificate issued moments ago.
CLOCK_SKEW_ALLOWANCE: Final = timedelta(minutes=5)
_DEFAULT_COMMON_NAME: Final = "veil enclave"


@dataclass(frozen=True)
class IssuedCertificate:
    """The certificate (DER and PEM), the quote inside it and the report_data it binds."""

    certificate: x509.Certificate
    quote: bytes
    report_data: bytes
    evidence: VeilEvidence

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def issue_ratls_certificate(
    private_key: ec.EllipticCurvePrivateKey,
    *,
    quote_fn: Callable[[bytes], bytes],
    sealing_public_key: bytes,
    sealing_suite: str,
    sans: Sequence[str],
    now: datetime,
    claims: RatlsClaims,
    validity: timedelta = DEFAULT_CERTIFICATE_VALIDITY,
    nonce: bytes = b"",
) -> IssuedCertificate:
    """Quote over (TLS key, sealing key, nonce) and self-sign a certificate that carries it.

    ``quote_fn`` is the TEE backend's ``quote(report_data)``. The quote's report_data is checked
    to be exactly the one asked for, so a broken backend cannot produce an unbound certificate.
    """
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise ValueError("RA-TLS keys are ECDSA P-256")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if validity <= timedelta(0):
        raise ValueError("validity must be positive")
    spki = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    report_data = ratls_report_data(spki, sealing_public_key, nonce=nonce)
    quote = quote_fn(report_data)
    info = parse_quote_info(quote)
    if not hmac.compare_digest(info.report_data, report_data):
        raise ValueError("the TEE backend returned a quote over different report_data")
    evidence = VeilEvidence(
        tee=info.tee,
        quote=quote,
        sealing_public_key=sealing_public_key,
        sealing_suite=sealing_suite,
        nonce=nonce,
        claims=claims,
    )
    common_name = sans[0] if sans else _DEFAULT_COMMON_NAME
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        # 159 random bits: positive, within RFC 5280's 20-octet limit, never reused.
        .serial_number(secrets.randbits(159) | 1)
        .not_valid_before(now - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False
        )
        # Non-critical: ordinary TLS clients (curl --cacert) must still accept the certificate.
        .add_extension(
            x509.UnrecognizedExtension(VEIL_EVIDENCE_OID, evidence.to_cbor()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(s) for s in sans]), critical=False
        )
    certificate = builder.sign(private_key, hashes.SHA256())
    return IssuedCertificate(
        certificate=certificate, quote=quote, report_data=report_data, evidence=evidence
    )
