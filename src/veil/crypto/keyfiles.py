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
from pathlib import Path
from typing import Final

from veil._io import write_atomic
from veil.errors import FormatError

__all__ = [
    "PRIVATE_FILE_MODE",
    "PUBLIC_FILE_MODE",
    "decode_key_base64",
    "encode_key_text",
    "parse_key_text",
    "write_key_file",
]

PRIVATE_FILE_MODE: Final = 0o600
PUBLIC_FILE_MODE: Final = 0o644


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


def write_key_file(
    path: Path, data: bytes, *, overwrite: bool, mode: int = PRIVATE_FILE_MODE
) -> None:
    """Write ``data`` to a new file with ``mode`` (default 0600); ``OperationError`` on failure.

    Without ``overwrite`` an existing ``path`` (even a dangling symlink) is refused. The data
    goes to a fresh 0600 file beside ``path`` that then atomically takes its place, so a secret
    never sits in a file with looser permissions and a crash leaves either no file (or the old
    one) or the whole new one.
    """
    write_atomic(path, data, mode=mode, overwrite=overwrite, what="key file")
