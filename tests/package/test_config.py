from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.package.config import MAX_CONFIG_BYTES, AppConfig, AppConfigError
from veil.package.security import SecurityConfig, SecurityConfigError

FULL = b"""
name = "shop"
python_application = "shop.web:create_app.app"
interface = "wsgi"
healthcheck = "/healthz"
allow_restart_without_owner = true
ignore = ["*.log", "data/"]

[tls]
scenario = "owner-certificate"
domain = "shop.example.com"
certificate = "certs/shop.pem"

[dependencies]
pyproject = true
platforms = ["manylinux2014_x86_64"]
python_version = "3.12"
"""


def test_minimal_config_has_safe_defaults() -> None:
    config = AppConfig.from_toml(b'name = "demo"\npython_application = "app:app"\n')
    assert config.name == "demo"
    assert config.interface == "auto"
    assert config.healthcheck == "/health"
    assert config.tls.scenario == "zero-trust"
    assert config.allow_restart_without_owner is False
    assert not config.dependencies.declared
    assert config.ignore == ()


def test_full_config() -> None:
    config = AppConfig.from_toml(FULL)
    assert config.python_module() == "shop.web"
    assert config.tls.domain == "shop.example.com"
    assert config.tls.certificate == "certs/shop.pem"
    assert config.dependencies.pyproject
    assert config.dependencies.platforms == ("manylinux2014_x86_64",)
    assert config.ignore == ("*.log", "data/")
    assert config.allow_restart_without_owner is True


def test_config_from_path_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "veil.toml"
    path.write_text('name = "Bad_Name"\npython_application = "app:app"\n')
    with pytest.raises(AppConfigError, match=rf"{path}: key 'name': expected a lowercase DNS"):
        AppConfig.from_toml(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AppConfigError, match="not found"):
        AppConfig.from_toml(tmp_path / "veil.toml")


BASE = 'name = "demo"\npython_application = "app:app"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('python_application = "app:app"\n', "key 'name'"),
        ('name = "demo"\n', "key 'python_application'"),
        (BASE.replace("app:app", "app"), "key 'python_application': expected 'module:attr"),
        (BASE.replace("app:app", "app:/x"), "key 'python_application'"),
        (BASE.replace("app:app", "../x:app"), "key 'python_application'"),
        (BASE + 'interface = "cgi"\n', "key 'interface': expected one of 'auto', 'asgi'"),
        (BASE + 'healthcheck = "health"\n', "key 'healthcheck': expected a URL path"),
        (BASE + 'healthcheck = "/a b"\n', "key 'healthcheck'"),
        (BASE + "allow_restart_without_owner = 1\n", "key 'allow_restart_without_owner'"),
        (BASE + 'ignore = "*.log"\n', "key 'ignore': expected a list"),
        (BASE + "ignore = [1]\n", "key 'ignore'"),
        (BASE + "port = 8080\n", "unknown key 'port'"),
        (BASE + '[tls]\nscenario = "mtls"\n', "key 'tls.scenario'"),
        (BASE + '[tls]\nscenario = "zero-trust"\ndomain = "a.example"\n', "key 'tls.domain'"),
        (BASE + '[tls]\nscenario = "owner-certificate"\ncertificate = "c.pem"\n', "'tls.domain'"),
        (
            BASE + '[tls]\nscenario = "owner-certificate"\ndomain = "a.example"\n',
            "key 'tls.certificate'",
        ),
        (
            BASE + '[tls]\nscenario = "owner-certificate"\ndomain = "a.example"\n'
            'certificate = "../c.pem"\n',
            "key 'tls.certificate': expected a relative path",
        ),
        (
            BASE + '[tls]\nscenario = "owner-certificate"\ndomain = "localhost"\n'
            'certificate = "c.pem"\n',
            "key 'tls.domain'",
        ),
        (BASE + "[tls]\nextra = 1\n", "unknown key 'tls.extra'"),
        (BASE + 'tls = "zero-trust"\n', "key 'tls': expected a table"),
        (
            BASE + '[dependencies]\nrequirements = "r.txt"\npyproject = true\n',
            "'dependencies.requirements' and 'dependencies.pyproject' are exclusive",
        ),
        (BASE + '[dependencies]\nrequirements = "/etc/r.txt"\n', "'dependencies.requirements'"),
        (BASE + "[dependencies]\nplatforms = [1]\n", "key 'dependencies.platforms'"),
        (BASE + '[dependencies]\npython_version = "2.7"\n', "'dependencies.python_version'"),
        (BASE + "[dependencies]\nlock = true\n", "unknown key 'dependencies.lock'"),
        ("name = \n", "invalid TOML"),
    ],
)
def test_invalid_config_names_file_and_key(text: str, message: str) -> None:
    with pytest.raises(AppConfigError) as exc:
        AppConfig.from_toml(text.encode(), origin="apps/x/veil.toml")
    assert str(exc.value).startswith("apps/x/veil.toml: ")
    assert message in str(exc.value)


def test_oversized_and_non_utf8_config() -> None:
    with pytest.raises(AppConfigError, match="larger than"):
        AppConfig.from_toml(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(AppConfigError, match="not UTF-8"):
        AppConfig.from_toml(b"name = '\xff'")


@given(st.binary(max_size=300))
def test_any_bytes_give_a_config_or_config_error(data: bytes) -> None:
    with contextlib.suppress(AppConfigError):
        AppConfig.from_toml(data)


def _security(text: bytes, cert: str | None = None, lock: str | None = None) -> SecurityConfig:
    return SecurityConfig.from_app_config(
        AppConfig.from_toml(text), tls_certificate_sha256=cert, dependency_lock_sha256=lock
    )


DIGEST = "sha256:" + "ab" * 32


def test_security_config_is_canonical_and_round_trips() -> None:
    security = _security(FULL, cert=DIGEST, lock=DIGEST)
    data = security.to_json()
    assert data == (
        b'{"allow_restart_without_owner":true,"dependency_lock":"' + DIGEST.encode() + b'",'
        b'"healthcheck":"/healthz","interface":"wsgi","name":"shop",'
        b'"python_application":"shop.web:create_app.app",'
        b'"tls":{"certificate":"certs/shop.pem","certificate_sha256":"' + DIGEST.encode() + b'",'
        b'"domain":"shop.example.com","scenario":"owner-certificate"},"version":1}'
    )
    assert SecurityConfig.from_json(data) == security


def test_security_config_leaves_out_deployment_and_packaging_details() -> None:
    a = _security(BASE.encode() + b'ignore = ["*.log"]\n')
    b = _security(BASE.encode())
    assert a.to_json() == b.to_json()
    assert b"ignore" not in a.to_json()


def test_security_config_requires_digests_exactly_when_needed() -> None:
    with pytest.raises(ValueError, match="certificate digest"):
        _security(FULL, cert=None, lock=DIGEST)
    with pytest.raises(ValueError, match="lock digest"):
        _security(BASE.encode(), lock=DIGEST)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.replace(b'"version":1', b'"version":2'),
        lambda s: s.replace(b'"version":1', b'"version":true'),
        lambda s: s.replace(b',"version":1', b""),
        lambda s: s.replace(b"{", b"{ ", 1),
        lambda s: s.replace(b'"name":"demo"', b'"name":"Demo"'),
        lambda s: s.replace(b'"dependency_lock":null', b'"dependency_lock":"sha256:00"'),
        lambda s: s.replace(b'"dependency_lock":null', b'"dependency_lock":1'),
        lambda s: s.replace(b'"scenario":"zero-trust"', b'"scenario":"zero-trust","x":1'),
        lambda s: s.replace(b'"tls":{', b'"tls":{"certificate_sha256":"' + DIGEST.encode() + b'",'),
        lambda s: s.replace(b'"tls":{"scenario":"zero-trust"}', b'"tls":[]'),
        lambda s: s + b"\n",
        lambda s: b"[]",
        lambda s: b"\xff",
    ],
)
def test_non_canonical_or_invalid_security_config_refused(mutate: object) -> None:
    canonical = _security(BASE.encode()).to_json()
    assert SecurityConfig.from_json(canonical).name == "demo"
    with pytest.raises(SecurityConfigError):
        SecurityConfig.from_json(mutate(canonical))  # type: ignore[operator]


@given(st.binary(max_size=200))
def test_security_config_parser_raises_only_its_error(data: bytes) -> None:
    with contextlib.suppress(SecurityConfigError):
        SecurityConfig.from_json(data)


def test_attestation_image_is_verifier_side_only(tmp_path: Path) -> None:
    """``[attestation] image`` names the guest image's reference values for the owner's tools;
    the security config (what the enclave enforces, in the fingerprint) does not carry it."""
    base = b'name = "demo"\npython_application = "app:app"\n'
    config = AppConfig.from_toml(base + b'[attestation]\nimage = "../images/tdx.json"\n')
    assert config.attestation.image == "../images/tdx.json"
    assert config.attestation.image_path(tmp_path) == tmp_path / "../images/tdx.json"
    assert AppConfig.from_toml(base).attestation.image_path(tmp_path) is None
    without = SecurityConfig.from_app_config(
        AppConfig.from_toml(base), tls_certificate_sha256=None, dependency_lock_sha256=None
    )
    with_image = SecurityConfig.from_app_config(
        config, tls_certificate_sha256=None, dependency_lock_sha256=None
    )
    assert with_image.to_json() == without.to_json()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (b"[attestation]\nimage = 3\n", "attestation.image"),
        (b'[attestation]\nimage = ""\n', "attestation.image"),
        (b'[attestation]\nimages = "a.json"\n', "unknown key 'attestation.images'"),
        (b'attestation = "a.json"\n', "attestation"),
    ],
)
def test_bad_attestation_table(table: bytes, message: str) -> None:
    with pytest.raises(AppConfigError, match=message):
        AppConfig.from_toml(b'name = "demo"\npython_application = "app:app"\n' + table)
