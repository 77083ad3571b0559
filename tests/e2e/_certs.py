"""Test certificates: an owner CA with a leaf for the app's names, and a self-signed one."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertFiles:
    certificate: Path
    private_key: Path
    #: The CA a client should trust (the certificate itself when self-signed).
    ca: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _leaf(builder: x509.CertificateBuilder, names: list[str]) -> x509.CertificateBuilder:
    return (
        builder.add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return builder.not_valid_before(now - timedelta(hours=1)).not_valid_after(
        now + timedelta(days=2)
    )


def owner_ca_and_leaf(directory: Path, names: list[str]) -> CertFiles:
    """A CA and a leaf it signed for ``names``; the leaf file holds leaf then CA (a chain)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        _validity(x509.CertificateBuilder())
        .subject_name(_name("veil test owner CA"))
        .issuer_name(_name("veil test owner CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        _leaf(_validity(x509.CertificateBuilder()), names)
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files = CertFiles(directory / "cert.pem", directory / "key.pem", directory / "ca.pem")
    files.certificate.write_bytes(leaf.public_bytes(pem) + ca_cert.public_bytes(pem))
    files.private_key.write_bytes(_key_pem(key))
    files.private_key.chmod(0o600)
    files.ca.write_bytes(ca_cert.public_bytes(pem))
    return files


def self_signed(directory: Path, names: list[str]) -> CertFiles:
    """A self-signed server certificate (the operator's, in the operator TLS scenario)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _leaf(_validity(x509.CertificateBuilder()), names)
        .subject_name(_name(names[0]))
        .issuer_name(_name(names[0]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .sign(key, hashes.SHA256())
    )
    files = CertFiles(directory / "cert.pem", directory / "key.pem", directory / "cert.pem")
    files.certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.private_key.write_bytes(_key_pem(key))
    files.private_key.chmod(0o600)
    return files
