"""The claims map of veil's RA-TLS evidence extension: what the enclave states about itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from veil.attestation.evidence import TLS_SCENARIOS
from veil.crypto.digest import parse_tagged_sha256
from veil.errors import FormatError
from veil.ratls.errors import RatlsFormatError

__all__ = [
    "CLAIM_KEYS",
    "MAX_CLAIM_CHARS",
    "TLS_SCENARIOS",
    "RatlsClaims",
    "format_claim_time",
]

#: Longest text claim, in characters: fingerprints and digests are 71, names and versions shorter.
MAX_CLAIM_CHARS: Final = 256
#: Every claim of a version-1 extension, all required (docs/formats.md, "RA-TLS certificate
#: extension"): a verifier compares each with the evidence.json field of the same meaning.
CLAIM_KEYS: Final = (
    "app_name",
    "app_fingerprint",
    "security_config_digest",
    "runtime_version",
    "runtime_digest",
    "instance_id",
    "port",
    "created_at",
    "tls_scenario",
    "tls_pin",
)
_DIGEST_KEYS: Final = frozenset(
    {"app_fingerprint", "security_config_digest", "runtime_digest", "tls_pin"}
)
_TEXT_LIMITS: Final = {"app_name": 128, "runtime_version": 64}
_PRINTABLE: Final = re.compile(r"[\x21-\x7e]+")
_INSTANCE_ID: Final = re.compile(r"[0-9a-f]{32}")
#: The one spelling of ``created_at``: RFC 3339 in UTC with ``Z``, microseconds only when
#: non-zero (what ``format_claim_time`` writes).
_CLAIM_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?Z")


def format_claim_time(value: datetime) -> str:
    """``value`` as the canonical ``created_at`` claim (UTC, ``Z``)."""
    if value.utcoffset() is None:
        raise ValueError("claim times must be timezone-aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: object, key: str) -> str:
    limit = _TEXT_LIMITS.get(key, MAX_CLAIM_CHARS)
    if not isinstance(value, str) or not _PRINTABLE.fullmatch(value) or len(value) > limit:
        raise RatlsFormatError(f"claim {key} must be 1–{limit} printable ASCII characters")
    if key in _DIGEST_KEYS:
        try:
            parse_tagged_sha256(value)
        except FormatError as e:
            raise RatlsFormatError(f"claim {key}: {e}") from e
    if key == "instance_id" and not _INSTANCE_ID.fullmatch(value):
        raise RatlsFormatError("claim instance_id must be 32 lowercase hex digits")
    if key == "tls_scenario" and value not in TLS_SCENARIOS:
        raise RatlsFormatError(f"claim tls_scenario must be one of {', '.join(TLS_SCENARIOS)}")
    return value


def _port(value: object) -> int:
    if type(value) is not int or not 1 <= value <= 65535:
        raise RatlsFormatError("claim port must be an unsigned integer 1–65535")
    return value


def _time(value: object) -> datetime:
    if not isinstance(value, str) or not _CLAIM_TIME.fullmatch(value):
        raise RatlsFormatError("claim created_at must be an RFC 3339 UTC time ending in Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise RatlsFormatError(f"claim created_at is not a valid time: {e}") from e
    if format_claim_time(parsed) != value:
        raise RatlsFormatError("claim created_at is not in canonical form")
    return parsed


@dataclass(frozen=True, kw_only=True)
class RatlsClaims:
    """Statements the enclave signs into its certificate (all required in version 1).

    Trust them only as far as the measurement goes: the app fingerprint, security-config digest
    and runtime identity are covered by the attested measurement (manifest / RTMR / simulated
    measurement), so a verifier that recomputes the expected measurement from them has checked
    them. The deployment claims (instance id, port, creation time, TLS scenario and pin) are
    made by the runtime code the measurement names, from the node spec it was started with.
    """

    app_name: str
    app_fingerprint: str
    #: ``sha256:`` of the package header's canonical security-config JSON.
    security_config_digest: str
    runtime_version: str
    runtime_digest: str
    instance_id: str
    port: int
    created_at: datetime
    #: The scenario the app's port serves in, fixed at start: the package's ``tls.scenario``
    #: (the runtime refuses to start with any other).
    tls_scenario: str
    #: ``sha256:`` pinning the certificate the app is served with: of the DER
    #: SubjectPublicKeyInfo of the RA-TLS key (zero-trust) or of the operator's leaf
    #: certificate (operator); in owner-certificate, whose key arrives only at provisioning,
    #: the package's certificate digest (``tls.certificate_sha256``).
    tls_pin: str

    def __post_init__(self) -> None:
        for key in CLAIM_KEYS:
            value = getattr(self, key)
            if key == "port":
                _port(value)
            elif key == "created_at":
                if not isinstance(value, datetime):
                    raise RatlsFormatError("claim created_at must be a datetime")
                # Normalised, so equal instants give equal claims and one encoding.
                object.__setattr__(self, key, _time(format_claim_time(value)))
            else:
                _text(value, key)

    def to_map(self) -> dict[str, str | int]:
        values: dict[str, str | int] = {key: getattr(self, key) for key in CLAIM_KEYS}
        values["created_at"] = format_claim_time(self.created_at)
        return values

    @classmethod
    def from_map(cls, data: object) -> RatlsClaims:
        """Decode a CBOR claims map: exactly the version-1 keys, each of its type."""
        if not isinstance(data, dict):
            raise RatlsFormatError("claims must be a map")
        unknown = sorted(str(k) for k in data if k not in CLAIM_KEYS)
        if unknown:
            raise RatlsFormatError(f"unknown claims: {', '.join(unknown)}")
        missing = [key for key in CLAIM_KEYS if key not in data]
        if missing:
            raise RatlsFormatError(f"missing claims: {', '.join(missing)}")
        return cls(
            app_name=_text(data["app_name"], "app_name"),
            app_fingerprint=_text(data["app_fingerprint"], "app_fingerprint"),
            security_config_digest=_text(data["security_config_digest"], "security_config_digest"),
            runtime_version=_text(data["runtime_version"], "runtime_version"),
            runtime_digest=_text(data["runtime_digest"], "runtime_digest"),
            instance_id=_text(data["instance_id"], "instance_id"),
            port=_port(data["port"]),
            created_at=_time(data["created_at"]),
            tls_scenario=_text(data["tls_scenario"], "tls_scenario"),
            tls_pin=_text(data["tls_pin"], "tls_pin"),
        )
