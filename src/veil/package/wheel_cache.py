"""A local, content-addressed cache of vendored wheels, reused when the requirements pin them all.

Layout under the cache root (``$XDG_CACHE_HOME/veil``, else ``~/.cache/veil``)::

    wheels/sha256/<64 hex>     one wheel, named by the SHA-256 of its bytes
    resolutions/<64 hex>.json  the wheel lock pip produced for one resolution request

A resolution is reused only when every requirement is an exact ``==`` pin and every locked wheel
is the version (and, with ``--hash``, one of the digests) its pin names; every wheel is hashed
again while it is copied out, and a mismatch discards it and falls back to pip.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib.metadata
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from packaging.utils import NormalizedName

from veil._io import read_bounded, write_atomic
from veil.crypto.digest import parse_tagged_sha256
from veil.errors import FormatError, OperationError
from veil.package._pins import Pin, is_pinned_wheel, parse_pins
from veil.package.lock import MAX_LOCK_BYTES, LockedWheel, WheelLock
from veil.package.security import canonical_json
from veil.package.vendor import ResolutionRequest

__all__ = ["CACHE_FORMAT_VERSION", "WheelCache", "cache_root", "resolution_key"]

_log = logging.getLogger(__name__)

#: Part of every resolution key: bump it to orphan every record of an older layout.
CACHE_FORMAT_VERSION: Final = 1
_BLOBS: Final = Path("wheels", "sha256")
_RESOLUTIONS: Final = Path("resolutions")
_DIR_MODE: Final = 0o700
_FILE_MODE: Final = 0o600
_COPY_BLOCK: Final = 1 << 20
_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def cache_root(environ: Mapping[str, str], home: Path) -> Path:
    """``$XDG_CACHE_HOME/veil`` when that is an absolute path, else ``<home>/.cache/veil``.

    The caller (the CLI) passes its environment and home directory: this package reads neither.
    """
    base = environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else home / ".cache") / "veil"


def _listing(directory: Path) -> dict[str, object]:
    """What pip can see in a ``--find-links`` directory: its files' names, sizes and mtimes."""
    entries: list[tuple[str, int, int]] = []
    try:
        with os.scandir(directory) as scan:
            for entry in scan:
                if entry.is_file():
                    stat = entry.stat()
                    entries.append((entry.name, stat.st_size, stat.st_mtime_ns))
    except OSError:
        return {"path": str(directory.absolute()), "entries": None}
    return {"path": str(directory.absolute()), "entries": [list(e) for e in sorted(entries)]}


def resolution_key(request: ResolutionRequest) -> str | None:
    """The hex SHA-256 naming a resolution request, or ``None`` when it cannot be named.

    It covers the requirements text, the index options, the listing of every ``--find-links``
    directory, the target platform options, and the interpreter and pip that resolve. Only the
    interpreter running veil can be identified cheaply; for another one there is no key.
    """
    if request.python != sys.executable:
        return None
    try:
        pip_version = importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        return None
    doc = {
        "version": CACHE_FORMAT_VERSION,
        "requirements": request.requirements,
        "no_index": request.no_index,
        "find_links": [_listing(directory) for directory in request.find_links],
        "platforms": list(request.platforms),
        "python_version": request.python_version,
        "interpreter": [sys.executable, sys.version],
        "pip": pip_version,
    }
    return hashlib.sha256(canonical_json(doc)).hexdigest()


class WheelCache:
    """The ``WheelStore`` kept in a local directory (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"WheelCache({str(self.root)!r})"

    def _blob(self, wheel: LockedWheel) -> Path:
        return self.root / _BLOBS / parse_tagged_sha256(wheel.sha256).hex()

    def _record_path(self, key: str) -> Path:
        return self.root / _RESOLUTIONS / f"{key}.json"

    def _pinned_key(
        self, request: ResolutionRequest
    ) -> tuple[str, dict[NormalizedName, Pin]] | None:
        pins = parse_pins(request.requirements)
        key = resolution_key(request) if pins is not None else None
        return (key, pins) if key is not None and pins is not None else None

    def reuse(self, request: ResolutionRequest, dest: Path) -> WheelLock | None:
        """Copy the recorded wheels of a fully pinned ``request`` into the empty ``dest``, each
        hashed again on the way; ``None`` (and ``dest`` left empty) when there are none."""
        pinned = self._pinned_key(request)
        if pinned is None:
            return None
        key, pins = pinned
        try:
            data = read_bounded(
                self._record_path(key),
                max_bytes=MAX_LOCK_BYTES,
                what="wheel cache record",
                missing_ok=True,
            )
            if data is None:
                return None
            lock = WheelLock.from_json(data)
        except (OperationError, FormatError) as e:
            _log.warning("ignoring an unreadable wheel cache record (%s)", e)
            return None
        if not _all_pinned(lock, pins):
            return None
        copied: list[Path] = []
        for wheel in lock.wheels:
            target = dest / wheel.filename
            if not self._copy_verified(wheel, target):
                for path in [*copied, target]:
                    path.unlink(missing_ok=True)
                return None
            copied.append(target)
        _log.debug("reused %d cached wheel(s) for pinned requirements", len(copied))
        return lock

    def _copy_verified(self, wheel: LockedWheel, target: Path) -> bool:
        blob = self._blob(wheel)
        hasher = hashlib.sha256()
        try:
            fd = os.open(blob, _OPEN_FLAGS)
            with os.fdopen(fd, "rb") as src, target.open("xb") as out:
                while block := src.read(_COPY_BLOCK):
                    hasher.update(block)
                    out.write(block)
        except FileNotFoundError:
            return False
        except OSError as e:  # e.g. a symlink planted in the cache (O_NOFOLLOW)
            _log.warning("cannot read cached wheel %s (%s); discarding it", wheel.filename, e)
        else:
            if hmac.compare_digest(hasher.digest(), parse_tagged_sha256(wheel.sha256)):
                return True
            _log.warning("cached wheel %s does not match its digest; discarding it", wheel.filename)
        with contextlib.suppress(OSError):
            blob.unlink()
        return False

    def record(self, request: ResolutionRequest, lock: WheelLock, wheels_dir: Path) -> None:
        """Keep what pip resolved for a fully pinned request. Best effort: a cache that cannot
        be written is logged, never an error."""
        pinned = self._pinned_key(request)
        if pinned is None:
            return
        key, pins = pinned
        if not _all_pinned(lock, pins):
            return  # pip added a wheel nobody pinned: the next resolution may differ
        try:
            self.root.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            for wheel in lock.wheels:
                blob = self._blob(wheel)
                if not blob.is_file():
                    _write_atomically(blob, (wheels_dir / wheel.filename).read_bytes())
            _write_atomically(self._record_path(key), lock.to_json())
        except (OSError, OperationError) as e:
            _log.warning("cannot write the wheel cache %s (%s)", self.root, e)


def _all_pinned(lock: WheelLock, pins: dict[NormalizedName, Pin]) -> bool:
    return all(
        is_pinned_wheel(w.filename, parse_tagged_sha256(w.sha256).hex(), pins) for w in lock.wheels
    )


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    write_atomic(path, data, mode=_FILE_MODE, what="wheel cache entry")
