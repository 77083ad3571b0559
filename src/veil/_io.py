"""Bounded file reads and atomic durable writes, shared by every zone that touches the disk."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Literal, overload

from veil.errors import FormatError, OperationError, VeilError

__all__ = ["fsync_directory", "read_bounded", "write_atomic"]

_log = logging.getLogger(__name__)


@overload
def read_bounded(
    path: Path,
    *,
    max_bytes: int,
    what: str,
    private: bool = ...,
    missing_ok: Literal[False] = ...,
    error: type[VeilError] = ...,
    too_large: type[VeilError] = ...,
) -> bytes: ...
@overload
def read_bounded(
    path: Path,
    *,
    max_bytes: int,
    what: str,
    private: bool = ...,
    missing_ok: Literal[True],
    error: type[VeilError] = ...,
    too_large: type[VeilError] = ...,
) -> bytes | None: ...
def read_bounded(
    path: Path,
    *,
    max_bytes: int,
    what: str,
    private: bool = False,
    missing_ok: bool = False,
    error: type[VeilError] = OperationError,
    too_large: type[VeilError] = FormatError,
) -> bytes | None:
    """Read at most ``max_bytes`` of the file ``path`` (``what`` names it in errors).

    ``error`` if it cannot be opened or is not a regular file or pipe (a pipe is how a shell
    passes ``<(command)``; the bound still holds); ``too_large`` if it is larger. With
    ``missing_ok``, a missing file is ``None``. With ``private``, a file readable by group or
    others is logged as a warning (not refused: secrets mounted by orchestrators are often
    root-owned 0644, and refusing would push users to copy keys around).
    """
    try:
        with path.open("rb") as f:
            info = os.fstat(f.fileno())
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
                raise error(f"{what} {path} is not a regular file")
            if private and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                _log.warning(
                    "%s %s is accessible by group or others (mode %o); use chmod 600",
                    what,
                    path,
                    stat.S_IMODE(info.st_mode),
                )
            data = f.read(max_bytes + 1)
    except FileNotFoundError as e:
        if missing_ok:
            return None
        raise error(f"cannot read {what} {path}: {e.strerror or e}") from e
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or e}") from e
    if len(data) > max_bytes:
        raise too_large(f"{what} {path} is larger than {max_bytes} bytes")
    return data


def write_atomic(
    path: Path, data: bytes, *, mode: int, overwrite: bool = True, what: str = "file"
) -> None:
    """Put ``data`` at ``path`` with ``mode`` so that readers and crashes see the old file or
    the new one, never a part: a temporary file in the same directory, fsync'd, then renamed
    (or, without ``overwrite``, linked, which fails if ``path`` exists), then the directory
    fsync'd so the rename itself survives a crash. ``OperationError`` on failure.
    """
    try:
        # mkstemp creates the file 0600, so a secret never sits in a file with a looser mode.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OperationError(f"cannot write {what} {path}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            # The umask does not apply to fchmod: the mode is exact.
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            # link() fails if path exists (even as a dangling symlink): no window in which
            # another file could be replaced.
            os.link(temporary, path)
    except FileExistsError as e:
        raise OperationError(f"{path} already exists; refusing to overwrite it") from e
    except OSError as e:
        raise OperationError(f"cannot write {what} {path}: {e.strerror or e}") from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable; best effort (some filesystems refuse)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
