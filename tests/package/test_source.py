from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from veil.crypto.digest import sha256_tagged
from veil.crypto.keys import CodeKey
from veil.errors import ConfigError
from veil.package.config import AppConfigError
from veil.package.encrypted import decrypt_package, read_package_header, write_package
from veil.package.source import AppSource

from ._helpers import MINIMAL_TOML, make_app

OWNER_TOML = MINIMAL_TOML + (
    '[tls]\nscenario = "owner-certificate"\ndomain = "demo.example.com"\n'
    'certificate = "certs/demo.pem"\n'
)


def _certificate_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demo.example.com")])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_owner_certificate_digest_is_bound_and_checked(tmp_path: Path) -> None:
    pem = _certificate_pem()
    root = make_app(tmp_path / "app", {"certs/demo.pem": pem}, toml=OWNER_TOML)
    source = AppSource.load(root)
    assert source.security.tls_certificate == "certs/demo.pem"
    assert source.security.tls_certificate_sha256 == sha256_tagged(pem)
    key = CodeKey.generate()
    write_package(source, tmp_path / "a.veil", key=key)
    header = read_package_header(tmp_path / "a.veil")
    assert header.security_config.tls_domain == "demo.example.com"
    decrypt_package(tmp_path / "a.veil", key=key, dest_dir=tmp_path / "out")
    assert (tmp_path / "out/certs/demo.pem").read_bytes() == pem


def test_owner_certificate_must_be_a_packaged_pem(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", {"certs/demo.pem": "not a certificate"}, toml=OWNER_TOML)
    with pytest.raises(AppConfigError, match=r"tls\.certificate'.* is not a PEM certificate"):
        AppSource.load(root)
    (root / "certs/demo.pem").write_bytes(_certificate_pem())
    (root / ".veilignore").write_text("certs/\n")
    with pytest.raises(AppConfigError, match="not among the packaged files"):
        AppSource.load(root)


def test_source_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        AppSource.load(tmp_path / "missing")
    root = make_app(tmp_path / "app", {"out.veil": "x"})
    source = AppSource.load(root)
    assert source.is_packaged(root / "out.veil")
    assert not source.is_packaged(tmp_path / "elsewhere.veil")
