"""The operator asks node.json for a TLS scenario the package does not allow: refused at start."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e._certs import owner_ca_and_leaf, self_signed
from tests.enclave._node_helpers import leaf_spki, write_app
from veil.crypto.digest import sha256_tagged
from veil.enclave.serving_tls import ServingTls
from veil.enclave.spec import NodeSpec
from veil.errors import ConfigError
from veil.package.security import SecurityConfig
from veil.package.source import AppSource


def _security(tmp_path: Path, tls: str = "") -> SecurityConfig:
    app = write_app(tmp_path / "app")
    with (app / "veil.toml").open("a") as toml:
        toml.write(tls)
    return AppSource.load(app).security


def _spec(
    tmp_path: Path, *, operator_tls: tuple[Path, Path] | None = None, override: str | None = None
) -> NodeSpec:
    return NodeSpec.model_validate(
        {
            "name": "unit",
            "instance_id": secrets.token_hex(16),
            "package": str(tmp_path / "app.veil"),
            "port": 8443,
            "tls_scenario_override": override or ("operator" if operator_tls else None),
            "operator_tls": (
                {"certificate": str(operator_tls[0]), "private_key": str(operator_tls[1])}
                if operator_tls
                else None
            ),
            "created_at": datetime.now(UTC),
        }
    )


def _operator_files(tmp_path: Path) -> tuple[Path, Path]:
    certs = self_signed(tmp_path / "operator", ["localhost"])
    return certs.certificate, certs.private_key


def test_operator_tls_on_a_zero_trust_package_is_refused(tmp_path: Path) -> None:
    spec = _spec(tmp_path, operator_tls=_operator_files(tmp_path))
    with pytest.raises(ConfigError, match=r'tls\.scenario = "zero-trust"; operator TLS needs'):
        ServingTls.resolve(spec, _security(tmp_path))


def test_operator_tls_on_an_owner_certificate_package_is_refused(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    certs = owner_ca_and_leaf(app / "tls", ["app.example.com"])
    (certs.private_key).unlink()
    with (app / "veil.toml").open("a") as toml:
        toml.write(
            '[tls]\nscenario = "owner-certificate"\ndomain = "app.example.com"\n'
            'certificate = "tls/cert.pem"\n'
        )
    security = AppSource.load(app).security
    spec = _spec(tmp_path, operator_tls=_operator_files(tmp_path))
    with pytest.raises(ConfigError, match="owner-certificate"):
        ServingTls.resolve(spec, security)
    # The owner-certificate pin is the package's certificate digest (the key comes later).
    serving = ServingTls.resolve(_spec(tmp_path), security)
    assert serving.pin(ratls_spki_der=b"x", security=security) == security.tls_certificate_sha256


def test_another_override_than_the_package_scenario_is_refused(tmp_path: Path) -> None:
    security = _security(tmp_path, '[tls]\nscenario = "operator"\n')
    with pytest.raises(ConfigError, match="asks for the zero-trust TLS scenario"):
        ServingTls.resolve(_spec(tmp_path, override="zero-trust"), security)


def test_an_operator_package_needs_operator_files(tmp_path: Path) -> None:
    security = _security(tmp_path, '[tls]\nscenario = "operator"\n')
    with pytest.raises(ConfigError, match="--untrusted-ssl-cert and --untrusted-ssl-key"):
        ServingTls.resolve(_spec(tmp_path), security)


def test_an_operator_package_pins_the_operator_certificate_read_at_start(tmp_path: Path) -> None:
    security = _security(tmp_path, '[tls]\nscenario = "operator"\n')
    certificate, key = _operator_files(tmp_path)
    original = certificate.read_bytes()
    serving = ServingTls.resolve(_spec(tmp_path, operator_tls=(certificate, key)), security)
    certificate.write_bytes(b"replaced later")
    assert serving.scenario == "operator"
    assert serving.operator_chain_pem == original
    assert serving.pin(ratls_spki_der=b"x", security=security) == sha256_tagged(leaf_spki(original))
    assert "PRIVATE" not in repr(serving)


def test_a_zero_trust_package_pins_the_ratls_key(tmp_path: Path) -> None:
    security = _security(tmp_path)
    serving = ServingTls.resolve(_spec(tmp_path), security)
    assert serving.pin(ratls_spki_der=b"spki", security=security) == sha256_tagged(b"spki")


def test_an_unreadable_operator_certificate_is_a_clear_error(tmp_path: Path) -> None:
    security = _security(tmp_path, '[tls]\nscenario = "operator"\n')
    certificate, key = _operator_files(tmp_path)
    certificate.write_bytes(b"not pem")
    with pytest.raises(ConfigError, match=r"operator TLS certificate .* is not PEM"):
        ServingTls.resolve(_spec(tmp_path, operator_tls=(certificate, key)), security)
