"""Strict, streaming extraction of a deterministic archive: accepts only the canonical form."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from veil.errors import OperationError
from veil.package._tar import BLOCK_SIZE, USTAR_FIELDS, encode_member_header, ustar_checksum
from veil.package.archive import MAX_ARCHIVE_ENTRIES, ArchiveError, check_archive_path

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["MAX_PAX_HEADER_BYTES", "ArchiveExtractor", "extract_archive", "staging_directory"]

#: Largest PAX extended header accepted, in bytes: the only records veil writes are ``path``
#: (at most 4 KiB) and ``size``, so anything larger is hostile.
MAX_PAX_HEADER_BYTES: Final = 8 * 1024

# Each header field as a slice of the 512-byte block, computed once rather than per header.
_FIELD: Final = {name: slice(offset, offset + size) for name, offset, size in USTAR_FIELDS}
_NAME, _MODE, _SIZE = _FIELD["name"], _FIELD["mode"], _FIELD["size"]
_MAGIC, _VERSION, _CHKSUM, _TYPEFLAG = (
    _FIELD["magic"],
    _FIELD["version"],
    _FIELD["chksum"],
    _FIELD["typeflag"],
)
_CREATE_FLAGS: Final = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_ZERO_BLOCK: Final = bytes(BLOCK_SIZE)
_OCTAL: Final = re.compile(rb"[0-7]+")

# Parser states: what the next bytes are.
_HEADER, _PAX_DATA, _DATA, _PADDING, _END, _DONE = range(6)


def _octal_field(block: bytes, field: slice, name: str) -> int:
    raw = block[field]
    digits = raw[:-1]
    if raw[-1:] != b"\0" or not _OCTAL.fullmatch(digits):
        raise ArchiveError(f"tar header field {name} is not canonical octal")
    return int(digits, 8)


def _parse_pax(data: bytes) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    rest = data
    while rest:
        length_text, space, _ = rest.partition(b" ")
        if not space or not length_text.isdigit() or len(length_text) > 6:
            raise ArchiveError("malformed PAX record")
        length = int(length_text)
        record, rest = rest[:length], rest[length:]
        if len(record) != length or not record.endswith(b"\n"):
            raise ArchiveError("malformed PAX record")
        key, equals, value = record[len(length_text) + 1 : -1].partition(b"=")
        if not equals or key not in {b"path", b"size"} or key.decode() in records:
            raise ArchiveError(f"PAX record {_printable(key[:32])} is not accepted")
        records[key.decode()] = value
    return records


class ArchiveExtractor(io.RawIOBase):
    """A writable sink that extracts the archive written into it into an empty directory.

    Only the canonical form that :class:`~veil.package.archive.ArchiveReader` produces is
    accepted: each header is re-encoded and compared byte for byte, paths must be valid and
    strictly increasing (so no duplicates), and only regular files exist. Links, devices,
    directories entries, unknown PAX records, non-zero padding and trailing data raise
    :class:`ArchiveError`. Files are created with ``O_EXCL | O_NOFOLLOW`` under the target, so
    nothing is ever written outside it. Call :meth:`finish` at the end.
    """

    def __init__(self, dest: Path) -> None:
        super().__init__()
        self._dest = dest
        self._root = os.fspath(dest)
        self._hasher = hashlib.sha256()
        self._state = _HEADER
        self._buf = bytearray()
        self._need = BLOCK_SIZE
        self._pax_block = b""
        self._pax_records: dict[str, bytes] | None = None
        self._pax_data = b""
        self._pad = 0
        self._fd: int | None = None
        self._remaining = 0
        self._previous: bytes | None = None
        self._entries = 0
        self._dirs: set[str] = set()
        self._files: set[str] = set()
        self._parent = ""  # directory of the last file; "" is the root, which exists

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        view = memoryview(data).cast("B")
        self._hasher.update(view)
        total = len(view)
        pos = 0
        while pos < total:
            if self._state == _DATA:
                end = pos + min(total - pos, self._remaining)
                self._write_data(view[pos:end])
                pos = end
                continue
            if self._state == _DONE:
                raise ArchiveError("data after the end of the archive")
            need = self._need
            if not self._buf and total - pos >= need:
                # The whole header, PAX data or padding is in this write: copy it once.
                chunk = view[pos : pos + need].tobytes()
                pos += need
            else:
                end = pos + min(total - pos, need - len(self._buf))
                self._buf += view[pos:end]
                pos = end
                if len(self._buf) < need:
                    break
                chunk = bytes(self._buf)
                self._buf.clear()
            self._advance(chunk)
        return total

    def _advance(self, chunk: bytes) -> None:
        if self._state == _HEADER:
            self._on_header(chunk)
        elif self._state == _PAX_DATA:
            self._on_pax_data(chunk)
        elif self._state == _PADDING:
            if chunk.count(0) != len(chunk):
                raise ArchiveError("non-zero padding after a file")
            self._expect_header()
        elif self._state == _END:
            if chunk != _ZERO_BLOCK:
                raise ArchiveError("data after the end-of-archive block")
            self._state = _DONE

    def _expect_header(self) -> None:
        self._state, self._need = _HEADER, BLOCK_SIZE

    def _on_header(self, block: bytes) -> None:
        if block == _ZERO_BLOCK:
            if self._pax_records is not None:
                raise ArchiveError("PAX header not followed by a file")
            self._state, self._need = _END, BLOCK_SIZE
            return
        if block[_MAGIC] != b"ustar\0" or block[_VERSION] != b"00":
            raise ArchiveError("not a ustar header")
        checksum = block[_CHKSUM]
        if checksum[6:] != b"\0 " or checksum[:6] != b"%06o" % ustar_checksum(block):
            raise ArchiveError("tar header checksum mismatch")
        typeflag = block[_TYPEFLAG]
        size = _octal_field(block, _SIZE, "size")
        if typeflag == b"x" and self._pax_records is None:
            if size > MAX_PAX_HEADER_BYTES:
                raise ArchiveError(f"PAX header larger than {MAX_PAX_HEADER_BYTES} bytes")
            self._pax_block = block
            self._state, self._need = _PAX_DATA, size + (-size % BLOCK_SIZE)
            if self._need == 0:
                raise ArchiveError("empty PAX header")
            return
        if typeflag != b"0":
            raise ArchiveError(
                f"tar member type {_printable(typeflag)} refused (only regular files are extracted)"
            )
        self._on_member(block, size)

    def _on_pax_data(self, data: bytes) -> None:
        size = _octal_field(self._pax_block, _SIZE, "size")
        self._pax_records = _parse_pax(data[:size])
        self._pax_data = data
        self._expect_header()

    def _on_member(self, block: bytes, size: int) -> None:
        records = self._pax_records or {}
        raw_name = records.get("path") or block[_NAME].rstrip(b"\0")
        if "size" in records:
            size_text = records["size"]
            if not size_text.isdigit() or len(size_text) > 20:
                raise ArchiveError("malformed PAX size")
            size = int(size_text)
        try:
            path = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise ArchiveError("member name is not UTF-8") from None
        encoded = check_archive_path(path)
        if self._previous is not None and encoded <= self._previous:
            raise ArchiveError(f"member {path!r} is duplicated or out of order")
        executable = _octal_field(block, _MODE, "mode") == 0o755
        canonical = encode_member_header(path, size=size, executable=executable)
        seen = block if self._pax_records is None else self._pax_block + self._pax_data + block
        if seen != canonical:
            raise ArchiveError(f"tar header of {path!r} is not in canonical form")
        self._entries += 1
        if self._entries > MAX_ARCHIVE_ENTRIES:
            raise ArchiveError(f"more than {MAX_ARCHIVE_ENTRIES} members")
        self._previous = encoded
        self._pax_records = None
        self._open(path, executable=executable)
        self._remaining = size
        self._pad = -size % BLOCK_SIZE
        if size:
            self._state = _DATA
        else:
            self._close_member()

    def _open(self, path: str, *, executable: bool) -> None:
        parent = path.rpartition("/")[0]
        if parent != self._parent:
            # Sorted members keep a directory's files together, so this runs once per
            # directory. Skipping it is exact: the last file's directory and its parents were
            # checked and created, and no file added since can be one of them.
            self._make_parents(path)
            self._parent = parent
        if path in self._dirs:
            raise ArchiveError(f"{path!r} is both a file and a directory")
        self._files.add(path)
        # The only syscalls per file are this open, the writes and the close: the mode is set
        # at creation, and mtimes are not restored (every archive mtime is 0).
        try:
            self._fd = os.open(
                f"{self._root}/{path}", _CREATE_FLAGS, 0o755 if executable else 0o644
            )
        except OSError as e:
            raise self._disk_error(e) from e

    def _make_parents(self, path: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in self._files:
                raise ArchiveError(f"{parent!r} is both a file and a directory")
            if parent not in self._dirs:
                try:
                    os.mkdir(f"{self._root}/{parent}", 0o755)
                except OSError as e:
                    raise self._disk_error(e) from e
                self._dirs.add(parent)

    def _disk_error(self, e: OSError) -> OperationError:
        return OperationError(f"cannot extract into {self._dest}: {e.strerror or e}")

    def _write_data(self, view: memoryview) -> None:
        fd = self._fd
        if fd is None:
            raise RuntimeError("no member open")
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
                self._remaining -= written
        except OSError as e:
            raise self._disk_error(e) from e
        if not self._remaining:
            self._close_member()

    def _close_member(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._pad:
            self._state, self._need = _PADDING, self._pad
        else:
            self._expect_header()

    def finish(self) -> bytes:
        """Check the archive ended properly; return the SHA-256 of every byte written."""
        if self._state != _DONE:
            raise ArchiveError("archive is truncated")
        return self._hasher.digest()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        super().close()


def extract_archive(src: BinaryIO, dest: Path, *, read_size: int = 1 << 20) -> bytes:
    """Extract the archive read from ``src`` into the new directory ``dest``; return its digest.

    Everything goes into a temporary directory beside ``dest`` that is renamed to ``dest``
    only on full success; on any error it is removed and ``dest`` is not created.
    """
    if dest.exists():
        raise OperationError(f"{dest} already exists; refusing to overwrite it")
    with staging_directory(dest) as staging:
        extractor = ArchiveExtractor(staging)
        try:
            while block := src.read(read_size):
                extractor.write(block)
            digest = extractor.finish()
        finally:
            extractor.close()
    return digest


@contextlib.contextmanager
def staging_directory(dest: Path) -> Iterator[Path]:
    """A fresh directory beside ``dest``, renamed to ``dest`` if the block succeeds and
    removed if it raises."""
    try:
        staging = Path(
            tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
        )
    except OSError as e:
        raise OperationError(f"cannot create a directory beside {dest}: {e.strerror or e}") from e
    try:
        yield staging
        if dest.exists():
            raise OperationError(f"{dest} appeared while extracting; refusing to overwrite it")
        try:
            os.rename(staging, dest)
        except OSError as e:
            raise OperationError(f"cannot create {dest}: {e.strerror or e}") from e
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _printable(raw: bytes) -> str:
    """Archive bytes quoted in an error: printable ASCII as is, other bytes as ``\\xNN``
    (never a Python bytes repr, never a control character reaching a terminal)."""
    text = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x27 else f"\\x{b:02x}" for b in raw)
    return f"'{text}'"
