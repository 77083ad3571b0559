"""The security config: the canonical, security-relevant part of ``veil.toml`` (fingerprinted)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from veil._json import load_json_object
from veil.crypto.digest import parse_tagged_sha256
from veil.errors import FormatError
from veil.package.config import AppConfig, AppConfigError, Interface, TlsScenario

__all__ = [
    "MAX_SECURITY_CONFIG_BYTES",
    "SECURITY_CONFIG_VERSION",
    "SecurityConfig",
    "SecurityConfigError",
    "canonical_json",
]

SECURITY_CONFIG_VERSION: Final = 1
#: Largest security config accepted from an untrusted package header, in bytes (a real one is
#: about 400 bytes).
MAX_SECURITY_CONFIG_BYTES: Final = 16 * 1024

_KEYS: Final = frozenset(
    {
        "version",
        "name",
        "python_application",
        "interface",
        "healthcheck",
        "tls",
        "dependency_lock",
        "allow_restart_without_owner",
    }
)


class SecurityConfigError(FormatError):
    """A security config (from a package header) is malformed or not in canonical form."""


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) serialisation for the values veil uses: objects, strings, booleans,
    null and small integers. Keys sorted, no whitespace, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True)
class SecurityConfig:
    """What the enclave must run and how, bound into the app fingerprint.

    Deployment arguments (port, instance id, zero-trust domain, expiry) are deliberately
    absent: they travel in the evidence, so one fingerprint covers every deployment.
    """

    name: str
    python_application: str
    interface: Interface
    healthcheck: str
    tls_scenario: TlsScenario
    tls_domain: str | None
    tls_certificate: str | None
    #: ``sha256:<hex>`` of the certificate file's bytes (owner-certificate only).
    tls_certificate_sha256: str | None
    #: ``sha256:<hex>`` of the vendored wheel lock (``.veil/lock.json``), if any dependency.
    dependency_lock_sha256: str | None
    allow_restart_without_owner: bool

    @classmethod
    def from_app_config(
        cls,
        config: AppConfig,
        *,
        tls_certificate_sha256: str | None,
        dependency_lock_sha256: str | None,
    ) -> SecurityConfig:
        if (config.tls.scenario == "owner-certificate") != (tls_certificate_sha256 is not None):
            raise ValueError("a certificate digest is required exactly for owner-certificate")
        if config.dependencies.declared != (dependency_lock_sha256 is not None):
            raise ValueError("a dependency lock digest is required exactly when deps are declared")
        return cls(
            name=config.name,
            python_application=config.python_application,
            interface=config.interface,
            healthcheck=config.healthcheck,
            tls_scenario=config.tls.scenario,
            tls_domain=config.tls.domain,
            tls_certificate=config.tls.certificate,
            tls_certificate_sha256=tls_certificate_sha256,
            dependency_lock_sha256=dependency_lock_sha256,
            allow_restart_without_owner=config.allow_restart_without_owner,
        )

    def to_dict(self) -> dict[str, Any]:
        tls: dict[str, Any] = {"scenario": self.tls_scenario}
        if self.tls_scenario == "owner-certificate":
            tls |= {
                "domain": self.tls_domain,
                "certificate": self.tls_certificate,
                "certificate_sha256": self.tls_certificate_sha256,
            }
        return {
            "version": SECURITY_CONFIG_VERSION,
            "name": self.name,
            "python_application": self.python_application,
            "interface": self.interface,
            "healthcheck": self.healthcheck,
            "tls": tls,
            "dependency_lock": self.dependency_lock_sha256,
            "allow_restart_without_owner": self.allow_restart_without_owner,
        }

    def to_json(self) -> bytes:
        """The canonical bytes hashed into the fingerprint and stored in the package header."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes) -> SecurityConfig:
        """Parse the canonical form; anything else (even reformatted JSON) is refused."""
        doc = load_json_object(
            data,
            max_bytes=MAX_SECURITY_CONFIG_BYTES,
            what="security config",
            error=SecurityConfigError,
        )
        if set(doc) != _KEYS:
            raise SecurityConfigError(
                "security config must be an object with keys " + ", ".join(sorted(_KEYS))
            )
        if doc["version"] != SECURITY_CONFIG_VERSION or isinstance(doc["version"], bool):
            raise SecurityConfigError(f"unsupported security config version {doc['version']!r}")
        tls = doc["tls"]
        if not isinstance(tls, dict):
            raise SecurityConfigError("security config 'tls' must be an object")
        certificate_sha256 = tls.get("certificate_sha256")
        lock_sha256 = doc["dependency_lock"]
        for what, digest in (("tls.certificate_sha256", certificate_sha256), ("lock", lock_sha256)):
            if digest is not None:
                if not isinstance(digest, str):
                    raise SecurityConfigError(f"security config {what} must be a digest string")
                try:
                    parse_tagged_sha256(digest)
                except FormatError as e:
                    raise SecurityConfigError(f"security config {what}: {e}") from None
        # The app-level keys follow exactly the veil.toml rules; reuse them.
        as_toml = {
            "name": doc["name"],
            "python_application": doc["python_application"],
            "interface": doc["interface"],
            "healthcheck": doc["healthcheck"],
            "allow_restart_without_owner": doc["allow_restart_without_owner"],
            "tls": {k: v for k, v in tls.items() if k != "certificate_sha256"},
            "dependencies": {"pyproject": lock_sha256 is not None},
        }
        try:
            config = AppConfig.from_mapping(as_toml, where="security config")
            parsed = cls.from_app_config(
                config,
                tls_certificate_sha256=certificate_sha256,
                dependency_lock_sha256=lock_sha256,
            )
        except (AppConfigError, ValueError) as e:
            raise SecurityConfigError(str(e)) from None
        if parsed.to_json() != data:
            raise SecurityConfigError("security config is not in canonical form")
        return parsed
