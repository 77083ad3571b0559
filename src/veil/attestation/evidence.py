"""The ``evidence.json`` document: everything an owner needs to verify an enclave offline."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from veil._json import check_members, load_json_object
from veil.attestation.collateral import MAX_COLLATERAL_BYTES, Collateral
from veil.attestation.result import Tee
from veil.crypto.digest import parse_tagged_sha256
from veil.errors import FormatError

__all__ = [
    "EVIDENCE_FORMAT",
    "EVIDENCE_VERSION",
    "MAX_EVIDENCE_BYTES",
    "TLS_SCENARIOS",
    "AppIdentity",
    "Deployment",
    "EvidenceDocument",
    "EvidenceFormatError",
    "RuntimeIdentity",
    "SealingKeyInfo",
]

EVIDENCE_FORMAT: Final = "veil-evidence"
EVIDENCE_VERSION: Final = 1
#: The TLS scenarios an app can be served in (DESIGN.md, "TLS scenarios").
TLS_SCENARIOS: Final = ("zero-trust", "owner-certificate", "operator")
#: Largest evidence.json read, in bytes: the embedded collateral may reach its own limit, and
#: the certificate, quote and parameters add well under 1 MiB.
MAX_EVIDENCE_BYTES: Final = MAX_COLLATERAL_BYTES + 1024 * 1024
#: Limits on the short text fields, in characters.
_MAX_NAME_CHARS: Final = 128
_MAX_VERSION_CHARS: Final = 64
_MAX_SAN_CHARS: Final = 253
_MAX_SANS: Final = 32
_MAX_SUITE_CHARS: Final = 64
_MAX_NONCE_BYTES: Final = 64
#: Longest nonce signature, in bytes: a DER ECDSA P-256 signature is at most 72 bytes.
_MAX_NONCE_SIGNATURE_BYTES: Final = 72
_MAX_BINARY_BYTES: Final = 256 * 1024
_INSTANCE_ID: Final = re.compile(r"[0-9a-f]{32}")
_PRINTABLE: Final = re.compile(r"[\x21-\x7e]+")
_PEM_CERTIFICATE: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?"
)


class EvidenceFormatError(FormatError):
    """An evidence.json document is malformed, oversized, of an unknown version or inconsistent."""


def _object(
    value: object, where: str, keys: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    return check_members(value, where, keys, optional, error=EvidenceFormatError)


def _text(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str) or not _PRINTABLE.fullmatch(value) or len(value) > limit:
        raise EvidenceFormatError(f"{where}: must be 1-{limit} printable ASCII characters")
    return value


def _b64(value: object, where: str, limit: int = _MAX_BINARY_BYTES) -> bytes:
    if not isinstance(value, str) or len(value) > (limit * 4) // 3 + 4:
        raise EvidenceFormatError(f"{where}: must be base64 of at most {limit} bytes")
    try:
        return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise EvidenceFormatError(f"{where}: not canonical base64") from e


def _digest(value: object, where: str) -> str:
    text = _text(value, where, 71)
    try:
        parse_tagged_sha256(text)
    except FormatError as e:
        raise EvidenceFormatError(f"{where}: {e}") from e
    return text


def _time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise EvidenceFormatError(f"{where}: must be an RFC 3339 date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise EvidenceFormatError(f"{where}: not an RFC 3339 date-time") from e
    if parsed.utcoffset() is None:
        raise EvidenceFormatError(f"{where}: must carry a time zone (e.g. Z)")
    return parsed


def _format_time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class RuntimeIdentity:
    """The veil runtime release running in the enclave."""

    version: str
    digest: str

    def __post_init__(self) -> None:
        _text(self.version, "runtime.version", _MAX_VERSION_CHARS)
        _digest(self.digest, "runtime.digest")


@dataclass(frozen=True, kw_only=True)
class AppIdentity:
    """The owner's app: its name, fingerprint and security-config digest (``sha256:<hex>``).

    The security-config digest lets a verifier who knows only the fingerprint recompute the
    expected measurement (the measurement covers both; the fingerprint already covers the
    security config, so the digest adds no freedom).
    """

    name: str
    fingerprint: str
    security_config_digest: str

    def __post_init__(self) -> None:
        _text(self.name, "app.name", _MAX_NAME_CHARS)
        _digest(self.fingerprint, "app.fingerprint")
        _digest(self.security_config_digest, "app.security_config_digest")


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """Per-deployment parameters (not part of the fingerprint; bound by the enclave's key).

    ``nonce`` is the verifier's nonce this document answers and ``nonce_signature`` the attested
    certificate key's signature over it (``veil.ratls.freshness``); both empty when no nonce
    was asked.
    """

    instance_id: str
    sans: tuple[str, ...]
    port: int
    created_at: datetime
    #: The scenario the app is served in, and the ``sha256:`` pin of its certificate (the
    #: ``tls_scenario`` and ``tls_pin`` claims, docs/formats.md).
    tls_scenario: str
    tls_pin: str
    nonce: bytes = b""
    nonce_signature: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sans", tuple(self.sans))
        if not isinstance(self.instance_id, str) or not _INSTANCE_ID.fullmatch(self.instance_id):
            raise EvidenceFormatError("deployment.instance_id: must be 32 lowercase hex digits")
        if len(self.sans) > _MAX_SANS:
            raise EvidenceFormatError(f"deployment.sans: at most {_MAX_SANS} names")
        for san in self.sans:
            _text(san, "deployment.sans[]", _MAX_SAN_CHARS)
        if type(self.port) is not int or not 1 <= self.port <= 65535:
            raise EvidenceFormatError("deployment.port: must be an integer 1-65535")
        if not isinstance(self.created_at, datetime) or self.created_at.utcoffset() is None:
            raise EvidenceFormatError("deployment.created_at: must be timezone-aware")
        if self.tls_scenario not in TLS_SCENARIOS:
            raise EvidenceFormatError(
                f"deployment.tls_scenario: must be one of {', '.join(TLS_SCENARIOS)}"
            )
        _digest(self.tls_pin, "deployment.tls_pin")
        if len(self.nonce) > _MAX_NONCE_BYTES:
            raise EvidenceFormatError(f"deployment.nonce: at most {_MAX_NONCE_BYTES} bytes")
        if len(self.nonce_signature) > _MAX_NONCE_SIGNATURE_BYTES:
            raise EvidenceFormatError(
                f"deployment.nonce_signature: at most {_MAX_NONCE_SIGNATURE_BYTES} bytes"
            )
        if self.nonce_signature and not self.nonce:
            raise EvidenceFormatError("deployment.nonce_signature: present without a nonce")


@dataclass(frozen=True, kw_only=True)
class SealingKeyInfo:
    """The enclave's HPKE public key (raw bytes) and the suite it belongs to."""

    public_key: bytes
    suite: str

    def __post_init__(self) -> None:
        if not self.public_key:
            raise EvidenceFormatError("sealing.public_key: must not be empty")
        _text(self.suite, "sealing.suite", _MAX_SUITE_CHARS)


@dataclass(frozen=True, kw_only=True)
class EvidenceDocument:
    """A parsed, well-formed evidence.json. Nothing in it is verified yet: see
    ``veil.ratls.evidence.verify_evidence_document``."""

    tee: Tee
    #: The RA-TLS certificate, PEM.
    ratls_certificate: bytes
    #: The quote (also inside the certificate; the two must be identical).
    quote: bytes
    #: Collateral to verify a hardware quote offline (absent for simulated evidence).
    collateral: Collateral | None
    #: Simulated evidence only: the raw Ed25519 simulation root public key.
    simulation_root_public_key: bytes | None
    runtime: RuntimeIdentity
    app: AppIdentity
    deployment: Deployment
    sealing: SealingKeyInfo

    def __post_init__(self) -> None:
        if not _PEM_CERTIFICATE.fullmatch(self.ratls_certificate):
            raise EvidenceFormatError("ratls_certificate: must be one PEM certificate")
        if not self.quote:
            raise EvidenceFormatError("quote: must not be empty")
        if self.tee is Tee.SIMULATED:
            if (
                self.simulation_root_public_key is None
                or len(self.simulation_root_public_key) != 32
            ):
                raise EvidenceFormatError(
                    "simulation_root_public_key: simulated evidence needs the 32-byte root key"
                )
            if self.collateral is not None:
                raise EvidenceFormatError("collateral: simulated evidence carries none")
        elif self.simulation_root_public_key is not None:
            raise EvidenceFormatError(
                "simulation_root_public_key: only simulated evidence carries one"
            )

    # ----- JSON ------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: bytes) -> EvidenceDocument:
        """Parse strictly: size limit, format and version, no unknown or duplicate members."""
        document = load_json_object(
            data, max_bytes=MAX_EVIDENCE_BYTES, what="evidence", error=EvidenceFormatError
        )
        if document.get("format") != EVIDENCE_FORMAT:
            raise EvidenceFormatError(f"format: expected {EVIDENCE_FORMAT!r}")
        version = document.get("version")
        if type(version) is not int or version != EVIDENCE_VERSION:
            raise EvidenceFormatError(f"version: unsupported evidence version {version!r}")
        top = _object(
            document,
            "evidence",
            frozenset(
                {"format", "version", "tee", "ratls_certificate", "quote", "runtime", "app"}
                | {"deployment", "sealing"}
            ),
            frozenset({"collateral", "simulation_root_public_key"}),
        )
        try:
            tee = Tee(top["tee"]) if isinstance(top["tee"], str) else None
        except ValueError:
            tee = None
        if tee is None:
            raise EvidenceFormatError(f"tee: unknown TEE {top['tee']!r}")
        certificate = top["ratls_certificate"]
        if not isinstance(certificate, str) or len(certificate) > 2 * _MAX_BINARY_BYTES:
            raise EvidenceFormatError("ratls_certificate: must be a PEM string")
        collateral = None
        if "collateral" in top:
            try:
                collateral = Collateral.from_bundle_json(json.dumps(top["collateral"]).encode())
            except FormatError as e:
                raise EvidenceFormatError(f"collateral: {e}") from e
        root = top.get("simulation_root_public_key")
        runtime = _object(top["runtime"], "runtime", frozenset({"version", "digest"}))
        app = _object(
            top["app"], "app", frozenset({"name", "fingerprint", "security_config_digest"})
        )
        deployment = _object(
            top["deployment"],
            "deployment",
            frozenset({"instance_id", "sans", "port", "created_at", "tls_scenario", "tls_pin"}),
            frozenset({"nonce", "nonce_signature"}),
        )
        sans = deployment["sans"]
        if not isinstance(sans, list):
            raise EvidenceFormatError("deployment.sans: must be a list of names")
        sealing = _object(top["sealing"], "sealing", frozenset({"public_key", "suite"}))
        return cls(
            tee=tee,
            ratls_certificate=certificate.encode("ascii", errors="replace"),
            quote=_b64(top["quote"], "quote"),
            collateral=collateral,
            simulation_root_public_key=None
            if root is None
            else _b64(root, "simulation_root_public_key"),
            runtime=RuntimeIdentity(version=runtime["version"], digest=runtime["digest"]),
            app=AppIdentity(
                name=app["name"],
                fingerprint=app["fingerprint"],
                security_config_digest=app["security_config_digest"],
            ),
            deployment=Deployment(
                instance_id=deployment["instance_id"],
                sans=tuple(sans),
                port=deployment["port"],
                created_at=_time(deployment["created_at"], "deployment.created_at"),
                tls_scenario=deployment["tls_scenario"],
                tls_pin=deployment["tls_pin"],
                nonce=_b64(deployment["nonce"], "deployment.nonce", _MAX_NONCE_BYTES)
                if "nonce" in deployment
                else b"",
                nonce_signature=_b64(
                    deployment["nonce_signature"],
                    "deployment.nonce_signature",
                    _MAX_NONCE_SIGNATURE_BYTES,
                )
                if "nonce_signature" in deployment
                else b"",
            ),
            sealing=SealingKeyInfo(
                public_key=_b64(sealing["public_key"], "sealing.public_key"),
                suite=sealing["suite"],
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "format": EVIDENCE_FORMAT,
            "version": EVIDENCE_VERSION,
            "tee": self.tee.value,
            "ratls_certificate": self.ratls_certificate.decode("ascii"),
            "quote": base64.b64encode(self.quote).decode("ascii"),
            "runtime": {"version": self.runtime.version, "digest": self.runtime.digest},
            "app": {
                "name": self.app.name,
                "fingerprint": self.app.fingerprint,
                "security_config_digest": self.app.security_config_digest,
            },
            "deployment": {
                "instance_id": self.deployment.instance_id,
                "sans": list(self.deployment.sans),
                "port": self.deployment.port,
                "created_at": _format_time(self.deployment.created_at),
                "tls_scenario": self.deployment.tls_scenario,
                "tls_pin": self.deployment.tls_pin,
            },
            "sealing": {
                "public_key": base64.b64encode(self.sealing.public_key).decode("ascii"),
                "suite": self.sealing.suite,
            },
        }
        if self.deployment.nonce:
            document["deployment"]["nonce"] = base64.b64encode(self.deployment.nonce).decode()
        if self.deployment.nonce_signature:
            document["deployment"]["nonce_signature"] = base64.b64encode(
                self.deployment.nonce_signature
            ).decode()
        if self.collateral is not None:
            document["collateral"] = json.loads(self.collateral.to_bundle_json())
        if self.simulation_root_public_key is not None:
            document["simulation_root_public_key"] = base64.b64encode(
                self.simulation_root_public_key
            ).decode("ascii")
        return document

    def to_json(self) -> bytes:
        """Deterministic JSON: sorted keys, 2-space indent, trailing newline."""
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode("ascii")
