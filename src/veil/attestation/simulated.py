"""Simulated attestation evidence: a quote-like structure signed by a local simulation root."""

from __future__ import annotations

import hashlib
import hmac
import logging
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from veil._layout import Layout
from veil.attestation.errors import QuoteFormatError, QuoteVerificationError
from veil.attestation.result import TcbStatus, Tee, VerifiedQuote
from veil.errors import FormatError

__all__ = [
    "IMAGE_SIZE",
    "MAX_ISSUED_IN_FUTURE",
    "MEASUREMENT_SIZE",
    "PLATFORM_ID_SIZE",
    "SIMULATED_QUOTE_LAYOUT",
    "SIMULATED_QUOTE_MAGIC",
    "SIMULATED_QUOTE_SIZE",
    "SIMULATED_QUOTE_VERSION",
    "SIMULATION_ROOT_PUBLIC_KEY_SIZE",
    "SimulatedQuote",
    "SimulationRoot",
    "is_simulated_quote",
    "issue_simulated_quote",
    "parse_simulated_quote",
    "simulation_root_key_id",
    "verify_simulated_quote",
]

_log = logging.getLogger(__name__)

#: First 8 bytes of every simulated quote. A DCAP quote starts with a little-endian version
#: (3, 4 or 5) and can never begin with ASCII ``V``, so the two are never confused.
SIMULATED_QUOTE_MAGIC: Final = b"VEILSIM\x00"
SIMULATED_QUOTE_VERSION: Final = 2
MEASUREMENT_SIZE: Final = 48
#: The simulated image register: the digest of the node's Python environment
#: (:mod:`veil.identity.environment`), the counterpart of TDX MRTD/RTMR0-2 or SNP MEASUREMENT.
IMAGE_SIZE: Final = 48
REPORT_DATA_SIZE: Final = 64
PLATFORM_ID_SIZE: Final = 16
SIMULATION_ROOT_PUBLIC_KEY_SIZE: Final = 32
_KEY_ID_SIZE: Final = 32
_SIGNATURE_SIZE: Final = 64
#: A quote dated later than ``now`` plus this skew is refused: the issuing host and the
#: verifier may disagree slightly on the time, but not by more.
MAX_ISSUED_IN_FUTURE: Final = timedelta(minutes=5)

_FLAG_DEBUG: Final = 0x0001
_KNOWN_FLAGS: Final = _FLAG_DEBUG

#: Total size of a simulated quote v2, in bytes.
SIMULATED_QUOTE_SIZE: Final = 296
#: Layout of a simulated quote v2 (``docs/formats.md``, "Simulated quote"). All integers are
#: little-endian. The Ed25519 signature covers every byte before it.
SIMULATED_QUOTE_LAYOUT: Final = Layout.of(
    "simulated quote v2",
    SIMULATED_QUOTE_SIZE,
    (
        ("magic", 0, "<8s"),
        ("version", 8, "<H"),
        ("flags", 10, "<H"),
        ("reserved", 12, "<I"),
        ("issued_at", 16, "<q"),
        ("platform_id", 24, "<16s"),
        ("measurement", 40, "<48s"),
        ("image", 88, "<48s"),
        ("report_data", 136, "<64s"),
        ("root_key_id", 200, "<32s"),
        ("signature", 232, "<64s"),
    ),
)
_SIGNED_SIZE: Final = SIMULATED_QUOTE_LAYOUT.field("signature").offset
#: Version 1 had no image register; its quotes are refused (simulated evidence is fresh from a
#: running node, never archived, so restarting the node is the whole migration).
_VERSION_WITHOUT_IMAGE: Final = 1

_KEY_ID_LABEL: Final = b"veil/simulation-root-key-id/v1\x00"


def simulation_root_key_id(public_key: bytes) -> bytes:
    """SHA-256 over a domain label and the raw 32-byte Ed25519 public key of a simulation root."""
    if len(public_key) != SIMULATION_ROOT_PUBLIC_KEY_SIZE:
        raise ValueError("a simulation root public key is 32 bytes")
    return hashlib.sha256(_KEY_ID_LABEL + public_key).digest()


class SimulationRoot:
    """The operator host's simulation signing key (Ed25519). ``repr`` shows only the key id.

    It exists so that the simulated backend produces evidence with the same shape as hardware
    evidence; it proves nothing about confidentiality, and every default policy refuses it.
    """

    __slots__ = ("_private_key",)

    _private_key: Ed25519PrivateKey

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key

    @classmethod
    def generate(cls) -> SimulationRoot:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, data: bytes) -> SimulationRoot:
        """Load an unencrypted PKCS#8 PEM Ed25519 key; raises ``FormatError`` otherwise."""
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as e:
            raise FormatError("simulation root key is not an unencrypted PKCS#8 PEM key") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise FormatError("simulation root key is not an Ed25519 key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_key_bytes(self) -> bytes:
        """The raw 32-byte Ed25519 public key, the trust anchor a verifier is given."""
        return self._private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def key_id(self) -> bytes:
        return simulation_root_key_id(self.public_key_bytes())

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)

    def __repr__(self) -> str:
        return f"SimulationRoot(key_id={self.key_id().hex()[:16]}…)"


@dataclass(frozen=True, kw_only=True)
class SimulatedQuote:
    """A parsed (not yet verified) simulated quote."""

    version: int
    debug: bool
    #: Issue time, or ``None`` when the issuer did not state one (encoded as 0).
    issued_at: datetime | None
    platform_id: bytes
    measurement: bytes
    image: bytes
    report_data: bytes
    root_key_id: bytes
    signature: bytes
    #: The bytes covered by ``signature``.
    signed_data: bytes
    raw: bytes

    def measurements(self) -> dict[str, str]:
        return {
            "measurement": self.measurement.hex(),
            "image": self.image.hex(),
            "platform_id": self.platform_id.hex(),
            "report_data": self.report_data.hex(),
        }


def is_simulated_quote(data: bytes) -> bool:
    """True when ``data`` starts with the simulated-quote magic (nothing is verified)."""
    return data[: len(SIMULATED_QUOTE_MAGIC)] == SIMULATED_QUOTE_MAGIC


def issue_simulated_quote(
    root: SimulationRoot,
    *,
    measurement: bytes,
    image: bytes,
    report_data: bytes,
    platform_id: bytes,
    debug: bool = False,
    now: datetime | None = None,
) -> bytes:
    """Build and sign a simulated quote v2 (see ``docs/formats.md``, "Simulated quote")."""
    if len(measurement) != MEASUREMENT_SIZE:
        raise ValueError("measurement must be 48 bytes")
    if len(image) != IMAGE_SIZE:
        raise ValueError("image must be 48 bytes")
    if len(report_data) != REPORT_DATA_SIZE:
        raise ValueError("report_data must be 64 bytes")
    if len(platform_id) != PLATFORM_ID_SIZE:
        raise ValueError("platform_id must be 16 bytes")
    issued_at = 0
    if now is not None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        issued_at = int(now.timestamp())
        if issued_at <= 0:
            raise ValueError("now must be after 1970-01-01")
    signed = SIMULATED_QUOTE_LAYOUT.pack(
        magic=SIMULATED_QUOTE_MAGIC,
        version=SIMULATED_QUOTE_VERSION,
        flags=_FLAG_DEBUG if debug else 0,
        reserved=0,
        issued_at=issued_at,
        platform_id=platform_id,
        measurement=measurement,
        image=image,
        report_data=report_data,
        root_key_id=root.key_id(),
        signature=bytes(_SIGNATURE_SIZE),
    )[:_SIGNED_SIZE]
    return signed + root.sign(signed)


def parse_simulated_quote(data: bytes) -> SimulatedQuote:
    """Parse a simulated quote; raises only ``QuoteFormatError``. Checks no signature."""
    if not is_simulated_quote(data):
        raise QuoteFormatError("not a simulated quote (bad magic)")
    if len(data) < 10:
        raise QuoteFormatError("simulated quote is truncated")
    (version,) = struct.unpack_from("<H", data, 8)
    if version == _VERSION_WITHOUT_IMAGE:
        raise QuoteFormatError(
            "simulated quote version 1 carries no image register and is no longer accepted: "
            "restart the simulated node with this veil release"
        )
    if version != SIMULATED_QUOTE_VERSION:
        raise QuoteFormatError(f"unsupported simulated quote version {version}")
    if len(data) != SIMULATED_QUOTE_SIZE:
        raise QuoteFormatError(
            f"simulated quote v{version} is {SIMULATED_QUOTE_SIZE} bytes, got {len(data)}"
        )
    fields = SIMULATED_QUOTE_LAYOUT.unpack(data)
    flags = fields.int_("flags")
    reserved = fields.int_("reserved")
    issued_at = fields.int_("issued_at")
    if flags & ~_KNOWN_FLAGS:
        raise QuoteFormatError(f"simulated quote has unknown flags 0x{flags:04x}")
    if reserved != 0:
        raise QuoteFormatError("simulated quote reserved field is not zero")
    if issued_at < 0:
        raise QuoteFormatError("simulated quote issue time is negative")
    try:
        issued = datetime.fromtimestamp(issued_at, tz=UTC) if issued_at else None
    except (OverflowError, OSError, ValueError) as e:
        raise QuoteFormatError("simulated quote issue time is out of range") from e
    return SimulatedQuote(
        version=version,
        debug=bool(flags & _FLAG_DEBUG),
        issued_at=issued,
        platform_id=fields.bytes_("platform_id"),
        measurement=fields.bytes_("measurement"),
        image=fields.bytes_("image"),
        report_data=fields.bytes_("report_data"),
        root_key_id=fields.bytes_("root_key_id"),
        signature=fields.bytes_("signature"),
        signed_data=data[:_SIGNED_SIZE],
        raw=bytes(data),
    )


def verify_simulated_quote(data: bytes, *, root_public_key: bytes, now: datetime) -> VerifiedQuote:
    """Verify a simulated quote's signature against the given simulation root.

    Numbered steps: S1 parse, S2 root key id, S3 signature, S4 issue time. The result always
    has ``tee=Tee.SIMULATED``; the policy layer refuses it unless explicitly allowed.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if len(root_public_key) != SIMULATION_ROOT_PUBLIC_KEY_SIZE:
        raise ValueError("a simulation root public key is 32 bytes")
    quote = parse_simulated_quote(data)
    if not hmac.compare_digest(quote.root_key_id, simulation_root_key_id(root_public_key)):
        raise QuoteVerificationError(
            "S2", "simulated quote was signed by a different simulation root"
        )
    try:
        public_key = Ed25519PublicKey.from_public_bytes(root_public_key)
    except ValueError as e:
        raise FormatError("simulation root public key is not a valid Ed25519 key") from e
    try:
        public_key.verify(quote.signature, quote.signed_data)
    except InvalidSignature as e:
        raise QuoteVerificationError("S3", "simulated quote signature is invalid") from e
    if quote.issued_at is not None and quote.issued_at > now + MAX_ISSUED_IN_FUTURE:
        raise QuoteVerificationError(
            "S4",
            f"simulated quote is issued in the future ({quote.issued_at.isoformat()} "
            f"> {now.isoformat()})",
        )
    _log.debug("simulated quote verified (software only, no TEE)")
    return VerifiedQuote(
        tee=Tee.SIMULATED,
        version=quote.version,
        # There is no TCB to evaluate; the tee field, not this status, marks the quote as
        # untrustworthy, and every default policy refuses Tee.SIMULATED.
        tcb_status=TcbStatus.UP_TO_DATE,
        advisory_ids=(),
        measurements=quote.measurements(),
        report_data=quote.report_data,
        debug=quote.debug,
        fmspc=None,
        verified_at=now,
    )
