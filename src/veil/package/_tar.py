"""The canonical tar encoding of one archive member (POSIX ustar header, PAX when needed)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "BLOCK_SIZE",
    "END_OF_ARCHIVE",
    "MAX_USTAR_NAME_BYTES",
    "MAX_USTAR_SIZE",
    "PAX_HEADER_NAME",
    "PAX_PATH_PLACEHOLDER",
    "USTAR_FIELDS",
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

#: The ustar header block, (field, offset, size) in bytes (POSIX.1-2001, pax(1) "ustar Header
#: Block"). Numeric fields are zero-padded octal ASCII ended by NUL.
USTAR_FIELDS: Final = (
    ("name", 0, 100),
    ("mode", 100, 8),
    ("uid", 108, 8),
    ("gid", 116, 8),
    ("size", 124, 12),
    ("mtime", 136, 12),
    ("chksum", 148, 8),
    ("typeflag", 156, 1),
    ("linkname", 157, 100),
    ("magic", 257, 6),
    ("version", 263, 2),
    ("uname", 265, 32),
    ("gname", 297, 32),
    ("devmajor", 329, 8),
    ("devminor", 337, 8),
    ("prefix", 345, 155),
    ("pad", 500, 12),
)
_FIELD: Final = {name: (offset, size) for name, offset, size in USTAR_FIELDS}

_REGULAR: Final = b"0"
_PAX: Final = b"x"
_FILE_MODE: Final = 0o644
_EXEC_MODE: Final = 0o755


def _octal(value: int, size: int) -> bytes:
    return b"%0*o\0" % (size - 1, value)


def ustar_checksum(block: bytes | bytearray) -> int:
    """Sum of the header's bytes with the ``chksum`` field counted as eight spaces."""
    offset, size = _FIELD["chksum"]
    return sum(block[:offset]) + 0x20 * size + sum(block[offset + size : BLOCK_SIZE])


def _ustar_block(name: bytes, *, mode: int, size: int, typeflag: bytes) -> bytes:
    block = bytearray(BLOCK_SIZE)

    def put(field: str, value: bytes) -> None:
        offset, width = _FIELD[field]
        if len(value) > width:
            raise ValueError(f"ustar field {field} holds {width} bytes, got {len(value)}")
        block[offset : offset + len(value)] = value

    put("name", name)
    put("mode", _octal(mode, 8))
    put("uid", _octal(0, 8))
    put("gid", _octal(0, 8))
    put("size", _octal(size, 12))
    put("mtime", _octal(0, 12))
    put("typeflag", typeflag)
    put("magic", b"ustar\0")
    put("version", b"00")
    # devmajor/devminor stay NUL-filled: they mean nothing for a regular file, and this is
    # what Python's tarfile writes too.
    # chksum: six octal digits, NUL, space (the layout GNU tar and Python's tarfile write).
    put("chksum", b"%06o\0 " % ustar_checksum(block))
    return bytes(block)


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
