"""The wheel lock: the vendored wheels an app carries, each with its SHA-256 (no process)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from veil._io import read_bounded
from veil._json import load_json_object
from veil.crypto.digest import format_tagged_sha256, parse_tagged_sha256, sha256_tagged
from veil.errors import FormatError
from veil.package.archive import RESERVED_DIR
from veil.package.security import canonical_json

__all__ = [
    "LOCK_PATH",
    "LOCK_VERSION",
    "MAX_LOCK_BYTES",
    "WHEELS_DIR",
    "LockedWheel",
    "WheelLock",
    "check_wheel_filename",
    "file_sha256",
    "install_requirements",
    "verify_vendored",
]

#: Where the wheels go inside the archive.
WHEELS_DIR: Final = f"{RESERVED_DIR}/wheels"
#: Where the lock goes inside the archive.
LOCK_PATH: Final = f"{RESERVED_DIR}/lock.json"
LOCK_VERSION: Final = 1
#: Largest lock file accepted, in bytes (about 120 bytes per wheel).
MAX_LOCK_BYTES: Final = 1024 * 1024
_HASH_READ_SIZE: Final = 1 << 20


@dataclass(frozen=True, order=True)
class LockedWheel:
    filename: str
    sha256: str  # "sha256:<hex>"


@dataclass(frozen=True)
class WheelLock:
    """The vendored wheels, sorted by file name, each with its SHA-256."""

    wheels: tuple[LockedWheel, ...]

    def to_json(self) -> bytes:
        doc = {
            "version": LOCK_VERSION,
            "wheels": [{"filename": w.filename, "sha256": w.sha256} for w in self.wheels],
        }
        return canonical_json(doc) + b"\n"

    def digest(self) -> str:
        return sha256_tagged(self.to_json())

    @classmethod
    def from_json(cls, data: bytes) -> WheelLock:
        doc = load_json_object(data, max_bytes=MAX_LOCK_BYTES, what="wheel lock")
        if doc.get("version") != LOCK_VERSION:
            raise FormatError(f"wheel lock must be an object with version {LOCK_VERSION}")
        entries = doc.get("wheels")
        if set(doc) != {"version", "wheels"} or not isinstance(entries, list):
            raise FormatError("wheel lock must have exactly 'version' and 'wheels' (a list)")
        wheels = []
        for entry in entries:
            if not isinstance(entry, dict) or set(entry) != {"filename", "sha256"}:
                raise FormatError("each locked wheel has exactly 'filename' and 'sha256'")
            filename, digest = entry["filename"], entry["sha256"]
            if not isinstance(filename, str) or not isinstance(digest, str):
                raise FormatError("locked wheel filename and sha256 must be strings")
            check_wheel_filename(filename)
            parse_tagged_sha256(digest)
            wheels.append(LockedWheel(filename, digest))
        lock = cls(tuple(wheels))
        if lock.to_json() != data:
            raise FormatError("wheel lock is not in canonical form (sorted, compact JSON)")
        return lock


def check_wheel_filename(filename: str) -> None:
    if "/" in filename or filename.startswith("."):
        raise FormatError(f"not a wheel file name: {filename!r}")
    try:
        parse_wheel_filename(filename)
    except InvalidWheelFilename as e:
        raise FormatError(f"not a wheel file name: {filename!r}: {e}") from None


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_HASH_READ_SIZE):
            hasher.update(block)
    return format_tagged_sha256(hasher.digest())


def verify_vendored(root: Path) -> WheelLock:
    """Check an extracted app's ``.veil/wheels`` against ``.veil/lock.json``, both ways.

    ``FormatError`` if a wheel is missing, extra, or has another digest.
    """
    lock_file = root / LOCK_PATH
    lock = WheelLock.from_json(read_bounded(lock_file, max_bytes=MAX_LOCK_BYTES, what="wheel lock"))
    wheels_dir = root / WHEELS_DIR
    present = sorted(p.name for p in wheels_dir.iterdir()) if wheels_dir.is_dir() else []
    if present != sorted(w.filename for w in lock.wheels):
        raise FormatError("vendored wheels do not match the lock")
    for wheel in lock.wheels:
        if file_sha256(wheels_dir / wheel.filename) != wheel.sha256:
            raise FormatError(f"vendored wheel {wheel.filename} does not match its locked digest")
    return lock


def install_requirements(lock: WheelLock, wheels_dir: Path) -> str:
    """A requirements file that installs exactly the locked wheels, hash-checked, offline::

    python -m pip install --no-index --no-deps --require-hashes -r <this file>
    """
    lines = []
    for wheel in lock.wheels:
        hex_digest = parse_tagged_sha256(wheel.sha256).hex()
        lines.append(f"{(wheels_dir / wheel.filename).absolute()} --hash=sha256:{hex_digest}\n")
    return "".join(lines)
