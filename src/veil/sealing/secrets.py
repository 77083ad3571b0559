"""The owner's secrets for one enclave: the payload sealed inside a sealed envelope.

Serialized as canonical JSON (UTF-8, keys sorted, no whitespace, optional fields omitted)::

    {
      "version": 1,
      "code_key": "<standard base64 of the 32-byte code key>",
      "app_secrets": {"NAME": "value", ...},
      "package_fingerprint": "sha256:<64 hex>",
      "instance_binding": "<text naming the enclave instance>",
      "tls_private_key_pem": "<PEM>",          optional, with the chain
      "tls_certificate_chain_pem": "<PEM>",    optional, with the key
      "issued_at": "YYYY-MM-DDTHH:MM:SSZ"      optional
    }

A reader refuses unknown or duplicate keys, wrong types, and anything over ``MAX_SECRETS_BYTES``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from veil._json import load_json_object
from veil.crypto.digest import parse_tagged_sha256
from veil.crypto.keyfiles import decode_key_base64
from veil.crypto.keys import CODE_KEY_SIZE, CodeKey
from veil.errors import FormatError
from veil.sealing.envelope import MAX_BINDING_BYTES, MAX_SEALED_PLAINTEXT_BYTES

__all__ = [
    "APP_SECRET_NAME_PATTERN",
    "MAX_APP_SECRETS",
    "MAX_APP_SECRET_VALUE_BYTES",
    "MAX_SECRETS_BYTES",
    "SECRETS_VERSION",
    "SecretsPayload",
]

SECRETS_VERSION: Final = 1
#: Largest serialized payload, in bytes: what one sealed envelope can carry.
MAX_SECRETS_BYTES: Final = MAX_SEALED_PLAINTEXT_BYTES
#: Most app secrets in one payload: configuration values, not a database.
MAX_APP_SECRETS: Final = 1024
#: Largest single app secret value, in UTF-8 bytes.
MAX_APP_SECRET_VALUE_BYTES: Final = 64 * 1024
#: App secret names are environment-variable names, so the runtime can expose them as such.
APP_SECRET_NAME_PATTERN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

_REQUIRED: Final = frozenset(
    {"version", "code_key", "app_secrets", "package_fingerprint", "instance_binding"}
)
_OPTIONAL: Final = frozenset({"tls_private_key_pem", "tls_certificate_chain_pem", "issued_at"})
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
_TIME_PATTERN: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _check_app_secrets(app_secrets: Mapping[str, str]) -> None:
    if len(app_secrets) > MAX_APP_SECRETS:
        raise FormatError(f"at most {MAX_APP_SECRETS} app secrets are allowed")
    for name, value in app_secrets.items():
        if not isinstance(name, str) or not APP_SECRET_NAME_PATTERN.fullmatch(name):
            raise FormatError(
                f"app secret name {name!r} must match {APP_SECRET_NAME_PATTERN.pattern}"
            )
        if not isinstance(value, str):
            raise FormatError(f"app secret {name} must be a string")
        if "\x00" in value or len(value.encode("utf-8", "surrogatepass")) > (
            MAX_APP_SECRET_VALUE_BYTES
        ):
            raise FormatError(
                f"app secret {name} must be at most {MAX_APP_SECRET_VALUE_BYTES} bytes "
                "without NUL characters"
            )


def _check_tls(key_pem: bytes | None, chain_pem: bytes | None) -> None:
    if (key_pem is None) != (chain_pem is None):
        raise FormatError("TLS private key and certificate chain must be given together")
    if key_pem is None or chain_pem is None:
        return
    if not key_pem.isascii() or not chain_pem.isascii():
        raise FormatError("TLS key and certificate chain must be ASCII PEM")
    try:
        private_key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise FormatError("TLS private key is not an unencrypted PEM private key") from None
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except (ValueError, x509.InvalidVersion):
        raise FormatError("TLS certificate chain is not a PEM certificate list") from None
    if not chain:
        raise FormatError("TLS certificate chain is empty")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if chain[0].public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) != private_key.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise FormatError("TLS certificate does not match the TLS private key")


@dataclass(frozen=True, repr=False)
class SecretsPayload:
    """What the owner seals to one enclave. ``repr`` names the secrets but shows none."""

    code_key: CodeKey
    package_fingerprint: str
    instance_binding: str
    app_secrets: Mapping[str, str] = field(default_factory=dict)
    tls_private_key_pem: bytes | None = None
    tls_certificate_chain_pem: bytes | None = None
    issued_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code_key, CodeKey):
            raise TypeError("code_key must be a CodeKey")
        parse_tagged_sha256(self.package_fingerprint)
        if (
            not isinstance(self.instance_binding, str)
            or not self.instance_binding
            or len(self.instance_binding.encode("utf-8", "surrogatepass")) > MAX_BINDING_BYTES
        ):
            raise FormatError(
                f"instance_binding must be a non-empty string of at most {MAX_BINDING_BYTES} bytes"
            )
        if not isinstance(self.app_secrets, Mapping):
            raise TypeError("app_secrets must be a mapping of names to strings")
        _check_app_secrets(self.app_secrets)
        object.__setattr__(self, "app_secrets", MappingProxyType(dict(self.app_secrets)))
        _check_tls(self.tls_private_key_pem, self.tls_certificate_chain_pem)
        if self.issued_at is not None:
            if self.issued_at.tzinfo is None:
                raise FormatError("issued_at must be timezone-aware")
            normalized = self.issued_at.astimezone(UTC).replace(microsecond=0)
            object.__setattr__(self, "issued_at", normalized)

    def to_bytes(self) -> bytes:
        """Canonical JSON, UTF-8."""
        doc: dict[str, Any] = {
            "version": SECRETS_VERSION,
            "code_key": base64.b64encode(self.code_key.secret_bytes()).decode("ascii"),
            "app_secrets": dict(self.app_secrets),
            "package_fingerprint": self.package_fingerprint,
            "instance_binding": self.instance_binding,
        }
        if self.tls_private_key_pem is not None and self.tls_certificate_chain_pem is not None:
            doc["tls_private_key_pem"] = self.tls_private_key_pem.decode("ascii")
            doc["tls_certificate_chain_pem"] = self.tls_certificate_chain_pem.decode("ascii")
        if self.issued_at is not None:
            doc["issued_at"] = self.issued_at.strftime(_TIME_FORMAT)
        data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        encoded = data.encode("utf-8")
        if len(encoded) > MAX_SECRETS_BYTES:
            raise FormatError(f"secrets payload is larger than {MAX_SECRETS_BYTES} bytes")
        return encoded

    @classmethod
    def from_bytes(cls, data: bytes) -> SecretsPayload:
        """Parse and validate a payload; ``FormatError`` naming the problem (never a value)."""
        # Strict JSON errors name positions and keys only, never a value.
        doc = load_json_object(data, max_bytes=MAX_SECRETS_BYTES, what="secrets payload")
        unknown = doc.keys() - _REQUIRED - _OPTIONAL
        if unknown:
            raise FormatError(f"secrets payload has unknown keys: {sorted(unknown)}")
        missing = _REQUIRED - doc.keys()
        if missing:
            raise FormatError(f"secrets payload is missing keys: {sorted(missing)}")
        version = doc["version"]
        if type(version) is not int or version != SECRETS_VERSION:
            raise FormatError(f"unsupported secrets payload version {version!r}")
        code_key = CodeKey(
            decode_key_base64(_string(doc, "code_key"), what="code_key", size=CODE_KEY_SIZE)
        )
        app_secrets = doc["app_secrets"]
        if not isinstance(app_secrets, dict):
            raise FormatError("app_secrets must be a JSON object of strings")
        issued_at = None
        if "issued_at" in doc:
            issued_at = _parse_time(_string(doc, "issued_at"))
        return cls(
            code_key=code_key,
            package_fingerprint=_string(doc, "package_fingerprint"),
            instance_binding=_string(doc, "instance_binding"),
            app_secrets=app_secrets,
            tls_private_key_pem=_optional_pem(doc, "tls_private_key_pem"),
            tls_certificate_chain_pem=_optional_pem(doc, "tls_certificate_chain_pem"),
            issued_at=issued_at,
        )

    def __repr__(self) -> str:
        return (
            f"SecretsPayload(code_key={self.code_key!r}, "
            f"app_secrets={sorted(self.app_secrets)!r}, "
            f"tls={'yes' if self.tls_private_key_pem is not None else 'no'}, "
            f"package_fingerprint={self.package_fingerprint!r}, "
            f"instance_binding={self.instance_binding!r})"
        )

    __str__ = __repr__


def _string(doc: dict[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str):
        raise FormatError(f"{key} must be a string")
    return value


def _optional_pem(doc: dict[str, Any], key: str) -> bytes | None:
    if key not in doc:
        return None
    value = _string(doc, key)
    if not value.isascii():
        raise FormatError(f"{key} must be ASCII PEM")
    return value.encode("ascii")


def _parse_time(text: str) -> datetime:
    if not _TIME_PATTERN.fullmatch(text):
        raise FormatError("issued_at must be YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise FormatError("issued_at is not a valid date and time") from None
