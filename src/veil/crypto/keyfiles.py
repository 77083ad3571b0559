"""Key files: versioned text form, created 0600 without a race, read with a size limit.

Every veil key file is ASCII text of exactly three lines::

    <kind> v1
    <field>: <value>
    key: <standard padded base64>

A reader refuses other versions, extra lines and non-canonical base64, naming the problem.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from veil.errors import FormatError, OperationError

__all__ = [
    "PRIVATE_FILE_MODE",
    "PUBLIC_FILE_MODE",
    "decode_key_base64",
    "encode_key_text",
    "parse_key_text",
    "read_limited_file",
    "write_key_file",
]

_log = logging.getLogger(__name__)

PRIVATE_FILE_MODE: Final = 0o600
PUBLIC_FILE_MODE: Final = 0o644
_CREATE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def encode_key_text(version_line: str, fields: list[tuple[str, str]]) -> str:
    """Render a key file: the version line, then ``name: value`` lines, newline-terminated."""
    return "".join([f"{version_line}\n", *(f"{name}: {value}\n" for name, value in fields)])


def parse_key_text(
    text: str, *, what: str, version_line: str, field_names: tuple[str, ...]
) -> list[str]:
    """Check the layout of a key file and return the values of ``field_names``, in order.

    Surrounding whitespace and CRLF line ends are tolerated; anything else raises
    ``FormatError`` naming the problem (never echoing values, which may be secret).
    """
    lines = [line.removesuffix("\r") for line in text.strip().split("\n")]
    if lines[0] != version_line:
        raise FormatError(f"{what} must start with the line {version_line!r}")
    if len(lines) != 1 + len(field_names):
        raise FormatError(
            f"{what} must have exactly {1 + len(field_names)} lines, got {len(lines)}"
        )
    values = []
    for number, (line, name) in enumerate(zip(lines[1:], field_names, strict=True), start=2):
        prefix = f"{name}: "
        if not line.startswith(prefix):
            raise FormatError(f"{what} line {number} must start with {prefix!r}")
        values.append(line.removeprefix(prefix))
    return values


def decode_key_base64(encoded: str, *, what: str, size: int) -> bytes:
    """Decode canonical standard base64 of exactly ``size`` bytes; ``FormatError`` otherwise."""
    try:
        raw = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise FormatError(f"{what} is not valid base64") from None
    if len(raw) != size:
        raise FormatError(f"{what} must decode to {size} bytes, got {len(raw)}")
    if base64.b64encode(raw).decode("ascii") != encoded:
        raise FormatError(f"{what} base64 is not in canonical form")
    return raw


def _create_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the first instant (O_EXCL: fails if it exists)."""
    fd = os.open(path, _CREATE_FLAGS, mode)
    try:
        # The umask can only remove bits, but make the mode exact anyway.
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.close(fd)


def write_key_file(
    path: Path, data: bytes, *, overwrite: bool, mode: int = PRIVATE_FILE_MODE
) -> None:
    """Write ``data`` to a new file with ``mode`` (default 0600); ``OperationError`` on failure.

    Without ``overwrite`` an existing ``path`` (even a dangling symlink) is refused. With it, the
    data goes to a fresh file beside ``path`` that then atomically replaces it, so a secret never
    sits in a file with looser permissions and a crash leaves either the old or the new file.
    """
    try:
        if not overwrite:
            _create_exclusive(path, data, mode)
            return
        temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        _create_exclusive(temp, data, mode)
        try:
            temp.replace(path)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
    except FileExistsError as e:
        raise OperationError(f"{path} already exists; refusing to overwrite it") from e
    except OSError as e:
        raise OperationError(f"cannot write {path}: {e.strerror or e}") from e


def read_limited_file(path: Path, *, max_bytes: int, what: str, private: bool) -> bytes:
    """Read a regular file of at most ``max_bytes``; ``FormatError`` if larger.

    With ``private``, a file readable by group or others is logged as a warning (not refused:
    secrets mounted by orchestrators are often root-owned 0644, and refusing would push users to
    copy keys around). ``OperationError`` if the file cannot be read.
    """
    try:
        with path.open("rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise FormatError(f"{what} {path} is not a regular file")
            if private and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                _log.warning(
                    "%s %s is accessible by group or others (mode %o); use chmod 600",
                    what,
                    path,
                    stat.S_IMODE(info.st_mode),
                )
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise OperationError(f"cannot read {what} {path}: {e.strerror or e}") from e
    if len(data) > max_bytes:
        raise FormatError(f"{what} {path} is larger than {max_bytes} bytes")
    return data
