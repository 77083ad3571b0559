"""The file operations backends perform on device pseudo-files, behind a small interface.

Hardware backends talk to the kernel or to Gramine through files (``/dev/attestation/*``,
configfs, sysfs). Routing every access through :class:`DeviceFiles` keeps the protocol logic
testable: a test passes a fake that behaves like the kernel (bumps ``generation``, produces a
quote when ``outblob`` is read, extends an RTMR on write) over a plain temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from veil.enclave.backends.errors import DeviceError, DeviceFormatError

__all__ = ["DeviceFiles", "OsDeviceFiles", "read_exact", "read_text_line"]


class DeviceFiles(Protocol):
    """File access as a device driver sees it: whole reads and whole writes."""

    def read(self, path: Path, *, max_bytes: int) -> bytes:
        """Read at most ``max_bytes + 1`` bytes (so the caller can detect oversize)."""
        ...

    def write(self, path: Path, data: bytes) -> None:
        """Write ``data`` at offset 0 in one call, as pseudo-files require."""
        ...

    def mkdir(self, path: Path) -> None: ...

    def rmdir(self, path: Path) -> None: ...


class OsDeviceFiles:
    """:class:`DeviceFiles` on the real file system; wraps ``OSError`` as ``DeviceError``."""

    def read(self, path: Path, *, max_bytes: int) -> bytes:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            raise DeviceError(f"cannot open {path}: {e.strerror or e}") from e
        try:
            chunks: list[bytes] = []
            remaining = max_bytes + 1
            # Pseudo-files may return less than asked per read(); stop only at end of file.
            while remaining > 0:
                chunk = os.read(fd, remaining)
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            return b"".join(chunks)
        except OSError as e:
            raise DeviceError(f"cannot read {path}: {e.strerror or e}") from e
        finally:
            os.close(fd)

    def write(self, path: Path, data: bytes) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            raise DeviceError(f"cannot open {path} for writing: {e.strerror or e}") from e
        try:
            # One write() call: sysfs RTMR files and Gramine's user_report_data reject partial
            # writes, so a short count is an error rather than something to continue.
            written = os.write(fd, data)
        except OSError as e:
            raise DeviceError(f"cannot write {path}: {e.strerror or e}") from e
        finally:
            os.close(fd)
        if written != len(data):
            raise DeviceError(f"short write to {path}: {written} of {len(data)} bytes")

    def mkdir(self, path: Path) -> None:
        try:
            path.mkdir()
        except OSError as e:
            raise DeviceError(f"cannot create {path}: {e.strerror or e}") from e

    def rmdir(self, path: Path) -> None:
        try:
            path.rmdir()
        except OSError as e:
            raise DeviceError(f"cannot remove {path}: {e.strerror or e}") from e


def read_exact(files: DeviceFiles, path: Path, size: int, *, what: str) -> bytes:
    """Read exactly ``size`` bytes from ``path``; ``DeviceFormatError`` on a short or long read."""
    data = files.read(path, max_bytes=size)
    if len(data) != size:
        raise DeviceFormatError(f"{what} ({path}) must be {size} bytes, read {len(data)}")
    return data


def read_text_line(files: DeviceFiles, path: Path, *, max_bytes: int, what: str) -> str:
    """Read a short ASCII attribute (``provider``, ``generation``…) without its newline."""
    data = files.read(path, max_bytes=max_bytes)
    if len(data) > max_bytes:
        raise DeviceFormatError(f"{what} ({path}) is longer than {max_bytes} bytes")
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError as e:
        raise DeviceFormatError(f"{what} ({path}) is not ASCII text") from e
