"""The canonical tar encoding of one archive member (POSIX ustar header, PAX when needed)."""

from __future__ import annotations

import zlib
from typing import Final

from veil._layout import Layout

__all__ = [
    "BLOCK_SIZE",
    "END_OF_ARCHIVE",
    "MAX_USTAR_NAME_BYTES",
    "MAX_USTAR_SIZE",
    "PAX_HEADER_NAME",
    "PAX_PATH_PLACEHOLDER",
    "USTAR_FIELDS",
    "USTAR_LAYOUT",
    "encode_member_header",
    "padding",
    "ustar_checksum",
]

BLOCK_SIZE: Final = 512
#: Two zero blocks end a tar archive (POSIX.1-2001, pax "ustar Interchange Format").
END_OF_ARCHIVE: Final = bytes(2 * BLOCK_SIZE)
#: Paths longer than the ustar ``name`` field, in UTF-8 bytes, go in a PAX ``path`` record.
MAX_USTAR_NAME_BYTES: Final = 100
#: Largest size the 11 octal digits of the ustar ``size`` field hold; larger ones go in a PAX
#: ``size`` record.
MAX_USTAR_SIZE: Final = 8**11 - 1
#: ``name`` of the PAX extended header block (the value Python's tarfile also writes).
PAX_HEADER_NAME: Final = b"././@PaxHeader"
#: ``name`` of a member header whose real path is in the preceding PAX ``path`` record.
PAX_PATH_PLACEHOLDER: Final = b"././@PaxPath"

#: The ustar header block (POSIX.1-2001, pax(1) "ustar Header Block"), checked at import to
#: fill exactly one 512-byte block. Every field is a NUL-padded byte string; numeric fields are
#: zero-padded octal ASCII ended by NUL.
USTAR_LAYOUT: Final = Layout.of(
    "ustar header",
    BLOCK_SIZE,
    (
        ("name", 0, "<100s"),
        ("mode", 100, "<8s"),
        ("uid", 108, "<8s"),
        ("gid", 116, "<8s"),
        ("size", 124, "<12s"),
        ("mtime", 136, "<12s"),
        ("chksum", 148, "<8s"),
        ("typeflag", 156, "<1s"),
        ("linkname", 157, "<100s"),
        ("magic", 257, "<6s"),
        ("version", 263, "<2s"),
        ("uname", 265, "<32s"),
        ("gname", 297, "<32s"),
        ("devmajor", 329, "<8s"),
        ("devminor", 337, "<8s"),
        ("prefix", 345, "<155s"),
        ("pad", 500, "<12s"),
    ),
)
#: (field, offset, size) in bytes, derived from the layout, for readers that slice blocks.
USTAR_FIELDS: Final = tuple((item.name, item.offset, item.size) for item in USTAR_LAYOUT.fields)
_FIELD: Final = {name: (offset, size) for name, offset, size in USTAR_FIELDS}
_USTAR_STRUCT: Final = USTAR_LAYOUT.struct
_CHKSUM_OFFSET, _CHKSUM_SIZE = _FIELD["chksum"]

_REGULAR: Final = b"0"
_PAX: Final = b"x"
_FILE_MODE: Final = 0o644
_EXEC_MODE: Final = 0o755
_ZERO_OCTAL_8: Final = b"0000000\0"
_ZERO_OCTAL_12: Final = b"00000000000\0"


def _octal(value: int, size: int) -> bytes:
    text = b"%0*o\0" % (size - 1, value)
    if len(text) > size:
        raise ValueError(f"{value} does not fit {size - 1} octal digits")
    return text


def _byte_sum(data: bytes | bytearray) -> int:
    """The sum of ``data``'s bytes, computed in C (``sum()`` costs a microsecond per header).

    The low half of Adler-32 (RFC 1950) is 1 + the byte sum modulo 65521, and 256 bytes sum to
    at most 65280: per 256-byte piece it is the exact sum.
    """
    total = 0
    for start in range(0, len(data), 256):
        total += (zlib.adler32(data[start : start + 256]) & 0xFFFF) - 1
    return total


def ustar_checksum(block: bytes | bytearray) -> int:
    """Sum of the header's bytes with the ``chksum`` field counted as eight spaces."""
    end = _CHKSUM_OFFSET + _CHKSUM_SIZE
    return (
        _byte_sum(block[:_CHKSUM_OFFSET]) + 0x20 * _CHKSUM_SIZE + _byte_sum(block[end:BLOCK_SIZE])
    )


def _ustar_block(name: bytes, *, mode: int, size: int, typeflag: bytes) -> bytes:
    if len(name) > MAX_USTAR_NAME_BYTES:
        # struct's "s" would silently truncate it.
        raise ValueError(f"ustar name holds {MAX_USTAR_NAME_BYTES} bytes, got {len(name)}")
    # Fields in USTAR_LAYOUT order; linkname, uname, gname, devmajor, devminor (meaningless for
    # a regular file, and what Python's tarfile writes too), prefix and pad stay NUL-filled.
    block = _USTAR_STRUCT.pack(
        name,
        _octal(mode, 8),
        _ZERO_OCTAL_8,  # uid
        _ZERO_OCTAL_8,  # gid
        _octal(size, 12),
        _ZERO_OCTAL_12,  # mtime
        b" " * _CHKSUM_SIZE,  # counted as spaces while summing
        typeflag,
        b"",
        b"ustar\0",
        b"00",
        b"",
        b"",
        b"",
        b"",
        b"",
        b"",
    )
    # chksum: six octal digits, NUL, space (the layout GNU tar and Python's tarfile write).
    checksum = b"%06o\0 " % _byte_sum(block)
    return block[:_CHKSUM_OFFSET] + checksum + block[_CHKSUM_OFFSET + _CHKSUM_SIZE :]


def _pax_record(key: str, value: bytes) -> bytes:
    # A record is "<length> <key>=<value>\n" where <length> counts the whole record, itself
    # included; grow the digit count until it is self-consistent.
    body = b" " + key.encode("ascii") + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode("ascii") + body


def padding(size: int) -> bytes:
    """Zero bytes that pad ``size`` bytes of member data to a whole block."""
    return bytes(-size % BLOCK_SIZE)


def encode_member_header(path: str, *, size: int, executable: bool) -> bytes:
    """The canonical header bytes of a regular file member (the caller validated ``path``).

    A PAX extended header (typeflag 'x') precedes the ustar block only when needed, holding
    ``path`` if the UTF-8 path exceeds 100 bytes and ``size`` if it exceeds the ustar field, in
    that order. No other record is ever written.
    """
    name = path.encode("utf-8")
    records = b""
    if len(name) > MAX_USTAR_NAME_BYTES:
        records += _pax_record("path", name)
        name = PAX_PATH_PLACEHOLDER
    ustar_size = size
    if size > MAX_USTAR_SIZE:
        records += _pax_record("size", str(size).encode("ascii"))
        ustar_size = 0
    mode = _EXEC_MODE if executable else _FILE_MODE
    member = _ustar_block(name, mode=mode, size=ustar_size, typeflag=_REGULAR)
    if not records:
        return member
    pax = _ustar_block(PAX_HEADER_NAME, mode=_FILE_MODE, size=len(records), typeflag=_PAX)
    return pax + records + padding(len(records)) + member
