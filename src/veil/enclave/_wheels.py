"""Offline install of an app's vendored wheels by unpacking them into a private site directory."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Final

from veil._io import read_bounded
from veil.crypto.digest import parse_tagged_sha256
from veil.errors import FormatError
from veil.package.lock import LOCK_PATH, MAX_LOCK_BYTES, WHEELS_DIR, WheelLock

__all__ = ["WheelInstallError", "install_vendored_wheels"]

#: A wheel's ``<name>-<version>.data/<scheme>/`` directories that hold importable code; the
#: other schemes (scripts, headers, data) are not needed to import the app and are skipped.
_IMPORTABLE_SCHEMES: Final = frozenset({"purelib", "platlib"})
_CREATE_FLAGS: Final = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
#: Largest single wheel read into memory, in bytes. The wheels come from the authenticated
#: archive, so this guards against mistakes rather than attacks.
MAX_WHEEL_BYTES: Final = 512 * 1024 * 1024


class WheelInstallError(FormatError):
    """A vendored wheel is missing, does not match the lock, or is not a well-formed wheel."""


def _target_path(member: str) -> PurePosixPath | None:
    """Where a wheel member goes relative to the site directory; ``None`` to skip it."""
    if "\\" in member or "\x00" in member:
        raise WheelInstallError("wheel member name has a backslash or NUL")
    path = PurePosixPath(member)
    if path.is_absolute() or any(part in {"", ".", ".."} for part in member.split("/")):
        raise WheelInstallError("wheel member escapes the install directory")
    first = path.parts[0]
    if first.endswith(".data"):
        if len(path.parts) < 3 or path.parts[1] not in _IMPORTABLE_SCHEMES:
            return None
        return PurePosixPath(*path.parts[2:])
    return path


def _extract(wheel: zipfile.ZipFile, site_dir: Path, made_dirs: set[str]) -> None:
    for info in wheel.infolist():
        if info.is_dir():
            continue
        mode = info.external_attr >> 16
        # Many zip writers record permission bits only; a recorded file type must be regular.
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            raise WheelInstallError("wheel holds something other than regular files")
        relative = _target_path(info.filename)
        if relative is None:
            continue
        parent = relative.parent.as_posix()
        if parent != "." and parent not in made_dirs:
            (site_dir / parent).mkdir(parents=True, exist_ok=True)
            made_dirs.add(parent)
        permissions = 0o755 if mode & 0o111 else 0o644
        try:
            fd = os.open(site_dir / relative, _CREATE_FLAGS, permissions)
        except FileExistsError:
            raise WheelInstallError(
                f"two vendored wheels install the same file {relative.as_posix()!r}"
            ) from None
        with os.fdopen(fd, "wb") as out:
            out.write(wheel.read(info))


def install_vendored_wheels(app_dir: Path, site_dir: Path) -> int:
    """Unpack every wheel listed in ``app_dir/.veil/lock.json`` into ``site_dir``.

    Each wheel's SHA-256 is checked against the lock *before* it is opened, and the set of
    wheel files must equal the lock's. Unpacking ``purelib``/``platlib`` content into a
    directory on ``sys.path`` is all an import needs; no installer runs and no code executes.
    Returns the number of wheels installed (0 when the app vendors none).
    """
    lock_file = app_dir / LOCK_PATH
    if not lock_file.is_file():
        if (app_dir / WHEELS_DIR).exists():
            raise WheelInstallError("vendored wheels are present without a lock")
        return 0
    lock = WheelLock.from_json(read_bounded(lock_file, max_bytes=MAX_LOCK_BYTES, what="wheel lock"))
    wheels_dir = app_dir / WHEELS_DIR
    present = sorted(p.name for p in wheels_dir.iterdir()) if wheels_dir.is_dir() else []
    if present != sorted(w.filename for w in lock.wheels):
        raise WheelInstallError("vendored wheels do not match the lock")
    site_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    made_dirs: set[str] = set()
    for locked in lock.wheels:
        path = wheels_dir / locked.filename
        data = read_bounded(
            path, max_bytes=MAX_WHEEL_BYTES, what="vendored wheel", too_large=WheelInstallError
        )
        if not hmac.compare_digest(
            hashlib.sha256(data).digest(), parse_tagged_sha256(locked.sha256)
        ):
            raise WheelInstallError(f"vendored wheel {locked.filename} does not match the lock")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as wheel:
                _extract(wheel, site_dir, made_dirs)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
            raise WheelInstallError(f"vendored wheel {locked.filename} is not a zip: {e}") from None
    return len(lock.wheels)
