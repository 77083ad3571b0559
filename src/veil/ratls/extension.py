"""veil's RA-TLS evidence extension: a versioned CBOR map carried under ``VEIL_EVIDENCE_OID``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import cbor2

from veil.attestation.result import Tee
from veil.ratls._cbor import strict_loads
from veil.ratls.claims import MAX_CLAIM_CHARS, RatlsClaims
from veil.ratls.errors import RatlsFormatError

__all__ = [
    "MAX_CLAIM_CHARS",
    "MAX_EXTENSION_BYTES",
    "MAX_NONCE_BYTES",
    "VEIL_EVIDENCE_VERSION",
    "RatlsClaims",
    "VeilEvidence",
]

VEIL_EVIDENCE_VERSION: Final = 1
#: Largest extension value read, in bytes: a DCAP quote with its PCK chain is 5–16 KiB and a
#: sealing key at most a few KiB, so 64 KiB never refuses real evidence.
MAX_EXTENSION_BYTES: Final = 64 * 1024
#: Longest verifier nonce, in bytes.
MAX_NONCE_BYTES: Final = 64
_MAX_SUITE_CHARS: Final = 64
_PRINTABLE: Final = re.compile(r"[\x21-\x7e]+")

_REQUIRED_KEYS: Final = frozenset(
    {"version", "tee", "quote", "sealing_public_key", "sealing_suite", "claims"}
)
_OPTIONAL_KEYS: Final = frozenset({"nonce"})


def _check_text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not _PRINTABLE.fullmatch(value) or len(value) > limit:
        raise RatlsFormatError(f"{what} must be 1–{limit} printable ASCII characters")
    return value


@dataclass(frozen=True, kw_only=True)
class VeilEvidence:
    """The decoded value of veil's evidence extension (``docs/formats.md``)."""

    tee: Tee
    quote: bytes
    sealing_public_key: bytes
    sealing_suite: str
    claims: RatlsClaims
    nonce: bytes = b""

    def __post_init__(self) -> None:
        if not self.quote:
            raise ValueError("quote must not be empty")
        if not self.sealing_public_key:
            raise ValueError("sealing public key must not be empty")
        if len(self.nonce) > MAX_NONCE_BYTES:
            raise ValueError(f"nonce is limited to {MAX_NONCE_BYTES} bytes")
        _check_text(self.sealing_suite, "sealing suite", _MAX_SUITE_CHARS)

    def to_cbor(self) -> bytes:
        """Canonical CBOR (RFC 8949 §4.2.1 ordering), so one evidence has one encoding."""
        item: dict[str, object] = {
            "version": VEIL_EVIDENCE_VERSION,
            "tee": self.tee.value,
            "quote": self.quote,
            "sealing_public_key": self.sealing_public_key,
            "sealing_suite": self.sealing_suite,
            "claims": self.claims.to_map(),
        }
        if self.nonce:
            item["nonce"] = self.nonce
        data = cbor2.dumps(item, canonical=True)
        if len(data) > MAX_EXTENSION_BYTES:
            raise ValueError(f"evidence extension exceeds {MAX_EXTENSION_BYTES} bytes")
        return data

    @classmethod
    def from_cbor(cls, data: bytes) -> VeilEvidence:
        """Decode strictly: size limit, version, known keys only, types; ``RatlsFormatError``."""
        if len(data) > MAX_EXTENSION_BYTES:
            raise RatlsFormatError(f"veil evidence extension exceeds {MAX_EXTENSION_BYTES} bytes")
        item = strict_loads(data, "veil evidence extension")
        if not isinstance(item, dict):
            raise RatlsFormatError("veil evidence extension is not a CBOR map")
        version = item.get("version")
        if type(version) is not int:
            raise RatlsFormatError("veil evidence extension has no integer version")
        if version != VEIL_EVIDENCE_VERSION:
            raise RatlsFormatError(f"unsupported veil evidence version {version}")
        keys = set(item)
        missing = sorted(_REQUIRED_KEYS - keys)
        if missing:
            raise RatlsFormatError(f"veil evidence extension lacks {', '.join(missing)}")
        unknown = sorted(str(k) for k in keys - _REQUIRED_KEYS - _OPTIONAL_KEYS)
        if unknown:
            raise RatlsFormatError(f"veil evidence extension has unknown keys {', '.join(unknown)}")
        tee_name = item["tee"]
        try:
            tee = Tee(tee_name) if isinstance(tee_name, str) else None
        except ValueError:
            tee = None
        if tee is None:
            raise RatlsFormatError(f"veil evidence names an unknown TEE {tee_name!r}")
        quote, sealing_key, nonce = (
            item["quote"],
            item["sealing_public_key"],
            item.get("nonce", b""),
        )
        for what, value in (
            ("quote", quote),
            ("sealing_public_key", sealing_key),
            ("nonce", nonce),
        ):
            if not isinstance(value, bytes):
                raise RatlsFormatError(f"veil evidence {what} is not a byte string")
        if not quote or not sealing_key:
            raise RatlsFormatError("veil evidence quote and sealing key must not be empty")
        if "nonce" in item and not nonce:
            raise RatlsFormatError("veil evidence nonce, when present, must not be empty")
        if len(nonce) > MAX_NONCE_BYTES:
            raise RatlsFormatError(f"veil evidence nonce exceeds {MAX_NONCE_BYTES} bytes")
        suite = _check_text(item["sealing_suite"], "sealing suite", _MAX_SUITE_CHARS)
        claims = RatlsClaims.from_map(item["claims"])
        evidence = cls(
            tee=tee,
            quote=quote,
            sealing_public_key=sealing_key,
            sealing_suite=suite,
            nonce=nonce,
            claims=claims,
        )
        if evidence.to_cbor() != data:
            raise RatlsFormatError("veil evidence extension is not canonical CBOR")
        return evidence
