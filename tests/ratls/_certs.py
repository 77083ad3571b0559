"""Builders for RA-TLS test certificates backed by simulated quotes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from veil.attestation.simulated import SimulationRoot, issue_simulated_quote
from veil.ratls.claims import RatlsClaims

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROOT = SimulationRoot.generate()
MEASUREMENT = bytes.fromhex("5a" * 48)
IMAGE = bytes.fromhex("1e" * 48)
PLATFORM_ID = b"\x01" * 16
CLAIMS = RatlsClaims(
    app_name="hello",
    app_fingerprint="sha256:" + "12" * 32,
    security_config_digest="sha256:" + "56" * 32,
    runtime_version="0.1.0",
    runtime_digest="sha256:" + "34" * 32,
    instance_id="0123456789abcdef" * 2,
    port=8443,
    created_at=NOW,
    tls_scenario="zero-trust",
    tls_pin="sha256:" + "78" * 32,
)


def claims(**changes: object) -> RatlsClaims:
    """``CLAIMS`` with some claims changed."""
    return dataclasses.replace(CLAIMS, **changes)  # type: ignore[arg-type]


def simulated_quote_fn(
    *, debug: bool = False, root: SimulationRoot = ROOT
) -> Callable[[bytes], bytes]:
    def quote(report_data: bytes) -> bytes:
        return issue_simulated_quote(
            root,
            measurement=MEASUREMENT,
            image=IMAGE,
            report_data=report_data,
            platform_id=PLATFORM_ID,
            debug=debug,
            now=NOW,
        )

    return quote


def spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def self_signed(
    key: ec.EllipticCurvePrivateKey,
    extensions: list[tuple[x509.ObjectIdentifier, bytes]],
    *,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=30),
    signer: ec.EllipticCurvePrivateKey | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for oid, value in extensions:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
    return builder.sign(signer or key, hashes.SHA256())


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)
