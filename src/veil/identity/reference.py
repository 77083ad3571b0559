"""Image reference values: the pinned measurements of one guest image (TDX, SEV-SNP, simulated)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from veil._io import read_bounded
from veil._json import check_members, load_json_object
from veil.attestation.result import Tee
from veil.errors import FormatError
from veil.identity.measurement import Measurement

__all__ = [
    "IMAGE_REFERENCE_FORMAT",
    "IMAGE_REFERENCE_VERSION",
    "IMAGE_REGISTERS",
    "IMAGE_TEES",
    "MAX_IMAGE_REFERENCE_BYTES",
    "MAX_RTMR3_EVENTS",
    "REFERENCE_TEES",
    "ImageProvenance",
    "ImageReference",
    "ImageReferenceError",
    "image_reference_template",
    "read_image_reference",
]

IMAGE_REFERENCE_FORMAT: Final = "veil-image-reference"
IMAGE_REFERENCE_VERSION: Final = 1
#: Largest reference-value document read, in bytes: a real one is well under 2 KiB.
MAX_IMAGE_REFERENCE_BYTES: Final = 64 * 1024
#: Most RTMR3 events an image may declare before veil's: a boot chain that extends RTMR3 does
#: so a handful of times; the bound keeps the replay's work small on untrusted input.
MAX_RTMR3_EVENTS: Final = 64
#: The TEEs whose evidence is refused unless the verifier is given the image's reference
#: values (DESIGN.md, "Identity model").
IMAGE_TEES: Final = (Tee.TDX, Tee.SEV_SNP)
#: The TEEs a reference-value document may name. Simulated evidence is checked against an
#: image too; without a document the verifier computes this machine's (ADR 15).
REFERENCE_TEES: Final = (*IMAGE_TEES, Tee.SIMULATED)
#: The registers that measure the image, by TEE, and their sizes in bytes. TDX: MRTD
#: (firmware), RTMR0 (firmware config), RTMR1 (boot loader, kernel), RTMR2 (command line,
#: initrd). SEV-SNP: the launch MEASUREMENT (firmware, kernel, command line, initrd).
#: Simulated: ``image``, the digest of the node's Python environment
#: (:mod:`veil.identity.environment`).
IMAGE_REGISTERS: Final[Mapping[Tee, Mapping[str, int]]] = MappingProxyType(
    {
        Tee.TDX: MappingProxyType({"mr_td": 48, "rtmr0": 48, "rtmr1": 48, "rtmr2": 48}),
        Tee.SEV_SNP: MappingProxyType({"measurement": 48}),
        Tee.SIMULATED: MappingProxyType({"image": 48}),
    }
)
_EVENT_SIZE: Final = 48

_PRINTABLE: Final = re.compile(r"[\x20-\x7e]+")
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_COMMIT: Final = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_MAX_NAME_CHARS: Final = 128
_MAX_URL_CHARS: Final = 256
_TOP_KEYS: Final = frozenset({"format", "version", "tee", "name", "measurements"})
_PROVENANCE_KEYS: Final = frozenset({"builder", "build"})
_OPTIONAL_KEYS: Final = {Tee.TDX: "rtmr3_events", Tee.SEV_SNP: "allow_vlek"}
_TEE_NAMES: Final = "'tdx', 'sev-snp' or 'simulated'"


class ImageReferenceError(FormatError):
    """An image reference-value document is malformed, oversized or inconsistent."""


@dataclass(frozen=True, kw_only=True)
class ImageProvenance:
    """Who built the image, from what, and when (shown to the verifier, not checked)."""

    builder_name: str
    builder_url: str
    source: str
    commit: str
    date: datetime

    def __post_init__(self) -> None:
        _text(self.builder_name, "builder.name", _MAX_NAME_CHARS)
        if not _text(self.builder_url, "builder.url", _MAX_URL_CHARS).startswith("https://"):
            raise ImageReferenceError("builder.url: must be an https:// URL")
        _text(self.source, "build.source", _MAX_URL_CHARS)
        if not _COMMIT.fullmatch(self.commit):
            raise ImageReferenceError("build.commit: must be a full lower-case git commit id")
        if self.date.utcoffset() is None:
            raise ImageReferenceError("build.date: must carry a time zone (e.g. Z)")

    def to_json(self) -> dict[str, object]:
        return {
            "builder": {"name": self.builder_name, "url": self.builder_url},
            "build": {
                "source": self.source,
                "commit": self.commit,
                "date": self.date.isoformat().replace("+00:00", "Z"),
            },
        }


@dataclass(frozen=True, kw_only=True)
class ImageReference:
    """The reference values of one guest image. Build it with :meth:`from_json`.

    ``registers`` are the image's measurements (:data:`IMAGE_REGISTERS` of ``tee``, lower-case
    hex). On TDX, ``rtmr3_events`` are what the image extends into RTMR3 before veil extends
    its app event; the verifier replays them from zeros. On SEV-SNP, ``allow_vlek`` accepts
    reports signed by a VLEK (a key the cloud provider loads) as well as by the chip's VCEK.
    ``provenance`` is required for TDX and SEV-SNP; a simulated image is a Python environment
    that nobody builds or publishes, so it may have none.
    """

    tee: Tee
    name: str
    registers: Mapping[str, str]
    rtmr3_events: tuple[bytes, ...] = ()
    allow_vlek: bool = False
    provenance: ImageProvenance | None

    def __post_init__(self) -> None:
        if self.tee not in REFERENCE_TEES:
            raise ImageReferenceError(
                f"tee: image reference values are for {_TEE_NAMES}, not {self.tee.value}"
            )
        if self.provenance is None and self.tee is not Tee.SIMULATED:
            raise ImageReferenceError(
                f"builder, build: a {self.tee.value} image names who built it from what"
            )
        _text(self.name, "name", _MAX_NAME_CHARS)
        sizes = IMAGE_REGISTERS[self.tee]
        if set(self.registers) != set(sizes):
            raise ImageReferenceError(
                f"measurements: a {self.tee.value} image gives exactly " + ", ".join(sorted(sizes))
            )
        registers = {
            name: _hex(value, f"measurements.{name}", sizes[name]).hex()
            for name, value in self.registers.items()
        }
        object.__setattr__(self, "registers", MappingProxyType(registers))
        events = tuple(bytes(event) for event in self.rtmr3_events)
        if events and self.tee is not Tee.TDX:
            raise ImageReferenceError("rtmr3_events: only a tdx image extends RTMR3")
        if len(events) > MAX_RTMR3_EVENTS or any(len(e) != _EVENT_SIZE for e in events):
            raise ImageReferenceError(
                f"rtmr3_events: at most {MAX_RTMR3_EVENTS} events of {_EVENT_SIZE} bytes"
            )
        object.__setattr__(self, "rtmr3_events", events)
        if self.allow_vlek and self.tee is not Tee.SEV_SNP:
            raise ImageReferenceError("allow_vlek: only a sev-snp image is signed by a VLEK")

    @classmethod
    def from_json(cls, data: bytes) -> ImageReference:
        """Parse a reference-value document; raises only ``ImageReferenceError``."""
        document = load_json_object(
            data,
            max_bytes=MAX_IMAGE_REFERENCE_BYTES,
            what="image reference values",
            error=ImageReferenceError,
        )
        top = _object(
            document,
            "document",
            _TOP_KEYS,
            frozenset(_OPTIONAL_KEYS.values()) | _PROVENANCE_KEYS,
        )
        if top["format"] != IMAGE_REFERENCE_FORMAT:
            raise ImageReferenceError(f"format: must be {IMAGE_REFERENCE_FORMAT!r}")
        version = top["version"]
        if isinstance(version, bool) or version != IMAGE_REFERENCE_VERSION:
            raise ImageReferenceError(f"version: must be {IMAGE_REFERENCE_VERSION}")
        try:
            tee = Tee(top["tee"])
        except ValueError:
            raise ImageReferenceError(f"tee: must be {_TEE_NAMES}") from None
        if tee not in REFERENCE_TEES:
            raise ImageReferenceError(f"tee: must be {_TEE_NAMES}")
        for key in set(_OPTIONAL_KEYS.values()) - {_OPTIONAL_KEYS.get(tee)}:
            if key in top:
                raise ImageReferenceError(f"{key}: not allowed for a {tee.value} image")
        missing = sorted(_PROVENANCE_KEYS - set(top))
        # Only a simulated image may leave out both; half a provenance is a mistake.
        if missing and (tee is not Tee.SIMULATED or len(missing) < len(_PROVENANCE_KEYS)):
            raise ImageReferenceError(f"document: missing member {missing[0]!r}")
        sizes = IMAGE_REGISTERS[tee]
        registers = _object(top["measurements"], "measurements", frozenset(sizes))
        events = top.get("rtmr3_events", [])
        if not isinstance(events, list) or len(events) > MAX_RTMR3_EVENTS:
            raise ImageReferenceError(
                f"rtmr3_events: must be a list of at most {MAX_RTMR3_EVENTS} hex events"
            )
        allow_vlek = top.get("allow_vlek", False)
        if not isinstance(allow_vlek, bool):
            raise ImageReferenceError("allow_vlek: must be true or false")
        return cls(
            tee=tee,
            name=_text(top["name"], "name", _MAX_NAME_CHARS),
            registers={
                name: _string(value, f"measurements.{name}") for name, value in registers.items()
            },
            rtmr3_events=tuple(
                _hex(event, f"rtmr3_events[{index}]", _EVENT_SIZE)
                for index, event in enumerate(events)
            ),
            allow_vlek=allow_vlek,
            provenance=_provenance(top) if "builder" in top else None,
        )

    def measurement(self) -> Measurement:
        """The image's registers alone (without the app's RTMR3 or HOST_DATA)."""
        return Measurement(self.tee, self.registers)

    def describe(self) -> str:
        """One line naming the image and who built it, for messages and reports."""
        p = self.provenance
        if p is None:
            return f"{self.name} (simulated, no builder)"
        return f"{self.name} (built by {p.builder_name} from {p.source} @ {p.commit[:12]})"

    def to_json(self) -> dict[str, object]:
        document: dict[str, object] = {
            "format": IMAGE_REFERENCE_FORMAT,
            "version": IMAGE_REFERENCE_VERSION,
            "tee": self.tee.value,
            "name": self.name,
            "measurements": dict(self.registers),
            **(self.provenance.to_json() if self.provenance is not None else {}),
        }
        if self.tee is Tee.TDX:
            document["rtmr3_events"] = [event.hex() for event in self.rtmr3_events]
        elif self.tee is Tee.SEV_SNP:
            document["allow_vlek"] = self.allow_vlek
        return document


def read_image_reference(path: Path) -> ImageReference:
    """Read and parse the reference-value file at ``path`` (``--image FILE``)."""
    data = read_bounded(
        path, max_bytes=MAX_IMAGE_REFERENCE_BYTES, what="image reference values", private=False
    )
    try:
        return ImageReference.from_json(data)
    except ImageReferenceError as e:
        raise ImageReferenceError(f"{path}: {e}") from e


def image_reference_template(tee: Tee) -> dict[str, Any]:
    """The document an image builder publishes for ``tee``, with placeholders to fill in."""
    if tee not in IMAGE_TEES:
        raise ValueError(f"no image reference values for {tee.value}")
    registers = {name: f"<{2 * size} hex digits>" for name, size in IMAGE_REGISTERS[tee].items()}
    document: dict[str, Any] = {
        "format": IMAGE_REFERENCE_FORMAT,
        "version": IMAGE_REFERENCE_VERSION,
        "tee": tee.value,
        "name": "<image name and release>",
        "measurements": registers,
    }
    if tee is Tee.TDX:
        document["rtmr3_events"] = ["<96 hex digits per event the image extends before veil>"]
    else:
        document["allow_vlek"] = False
    document["builder"] = {"name": "<who built the image>", "url": "https://<builder>"}
    document["build"] = {
        "source": "<repository the image is built from>",
        "commit": "<full git commit id>",
        "date": "<RFC 3339 date-time, e.g. 2026-03-01T12:00:00Z>",
    }
    return document


def _provenance(top: Mapping[str, Any]) -> ImageProvenance:
    builder = _object(top["builder"], "builder", frozenset({"name", "url"}))
    build = _object(top["build"], "build", frozenset({"source", "commit", "date"}))
    return ImageProvenance(
        builder_name=_text(builder["name"], "builder.name", _MAX_NAME_CHARS),
        builder_url=_text(builder["url"], "builder.url", _MAX_URL_CHARS),
        source=_text(build["source"], "build.source", _MAX_URL_CHARS),
        commit=_string(build["commit"], "build.commit"),
        date=_date(build["date"], "build.date"),
    )


def _object(
    value: object, where: str, keys: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    return check_members(value, where, keys, optional, error=ImageReferenceError)


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ImageReferenceError(f"{where}: must be a string")
    return value


def _text(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str) or not _PRINTABLE.fullmatch(value) or len(value) > limit:
        raise ImageReferenceError(f"{where}: must be 1-{limit} printable ASCII characters")
    return value


def _hex(value: object, where: str, size: int) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.fullmatch(value):
        raise ImageReferenceError(f"{where}: must be {2 * size} hex digits")
    return bytes.fromhex(value)


def _date(value: object, where: str) -> datetime:
    text = _string(value, where)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ImageReferenceError(f"{where}: not an RFC 3339 date-time") from None
    if parsed.utcoffset() is None:
        raise ImageReferenceError(f"{where}: must carry a time zone (e.g. Z)")
    return parsed
