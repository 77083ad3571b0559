"""The encrypted package (``.veil``): clear header, encrypted archive, fingerprint trailer."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import os
import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, cast

from veil._io import fsync_directory
from veil._layout import Layout
from veil.crypto.digest import format_tagged_sha256, parse_tagged_sha256, sha256_tagged
from veil.crypto.keys import CodeKey
from veil.crypto.stream import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    TAG_SIZE,
    decrypt_stream,
    derive_stream_key,
    encrypt_stream,
)
from veil.errors import DecryptionError, FormatError, OperationError
from veil.package.archive import HashingReader
from veil.package.extract import ArchiveExtractor, staging_directory
from veil.package.fingerprint import compute_fingerprint, is_same_fingerprint
from veil.package.lock import LOCK_PATH, verify_vendored
from veil.package.security import MAX_SECURITY_CONFIG_BYTES, SecurityConfig

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from veil.package.source import AppSource  # the node, which only decrypts, never loads it

__all__ = [
    "BODY_KEY_INFO",
    "FORMAT_VERSION",
    "HEADER_FIXED_FIELDS",
    "HEADER_VARIABLE_FIELDS",
    "MAGIC",
    "MAX_HEADER_BYTES",
    "SALT_SIZE",
    "TRAILER_FIELDS",
    "TRAILER_MAGIC",
    "TRAILER_SIZE",
    "DecryptedPackage",
    "PackageFormatError",
    "PackageHeader",
    "PackageInfo",
    "decrypt_package",
    "encode_header",
    "read_package_header",
    "write_package",
]

MAGIC: Final = b"VEIL-PKG"
FORMAT_VERSION: Final = 1
TRAILER_MAGIC: Final = b"VEIL-FPR"
SALT_SIZE: Final = 32
#: HKDF ``info`` of the body key: one code key could later encrypt other kinds of streams.
BODY_KEY_INFO: Final = b"veil/package-body/v1"
#: Largest header accepted, in bytes: bounds what an untrusted file makes a reader allocate.
MAX_HEADER_BYTES: Final = 64 * 1024
#: Longest app name, in bytes (a DNS label).
MAX_APP_NAME_BYTES: Final = 63
#: Longest key id, in bytes.
MAX_KEY_ID_BYTES: Final = 64

HEADER_FIXED_SIZE: Final = 50
#: Fixed part of the header.
HEADER_FIXED_FIELDS: Final = Layout.of(
    "package header",
    HEADER_FIXED_SIZE,
    (
        ("magic", 0, "<8s"),
        ("format_version", 8, "<H"),
        ("header_size", 10, "<I"),
        ("chunk_size", 14, "<I"),
        ("salt", 18, f"<{SALT_SIZE}s"),
    ),
)
#: Variable part, in this order: (field, length prefix format, maximum length in bytes).
HEADER_VARIABLE_FIELDS: Final = (
    ("app_name", "<H", MAX_APP_NAME_BYTES),
    ("key_id", "<H", MAX_KEY_ID_BYTES),
    ("security_config", "<I", MAX_SECURITY_CONFIG_BYTES),
)
TRAILER_SIZE: Final = 40
#: The trailer, at the very end of the file.
TRAILER_FIELDS: Final = Layout.of(
    "package trailer", TRAILER_SIZE, (("magic", 0, "<8s"), ("fingerprint", 8, "<32s"))
)

_KEY_ID_RE: Final = re.compile(rb"[A-Za-z0-9_-]{1,64}")
_COPY_SIZE: Final = 1 << 20


class PackageFormatError(FormatError):
    """A ``.veil`` file whose header or trailer is malformed (no key needed to tell)."""


@dataclass(frozen=True)
class PackageHeader:
    """The clear part of a ``.veil`` file, readable without the code key.

    Nothing here is authenticated until :func:`decrypt_package` succeeds: the header bytes are
    the AEAD's associated data and the fingerprint is recomputed from the decrypted archive.
    """

    format_version: int
    app_name: str
    key_id: str
    chunk_size: int
    salt: bytes
    security_config: SecurityConfig
    security_config_json: bytes
    fingerprint: str
    header_bytes: bytes
    body_offset: int
    body_size: int

    @classmethod
    def from_parts(cls, header: bytes, trailer: bytes, *, file_size: int) -> PackageHeader:
        """Parse the header (first bytes of the file) and the trailer (last 40 bytes)."""
        if len(header) < HEADER_FIXED_SIZE:
            raise PackageFormatError("file too short for a veil package header")
        fixed = HEADER_FIXED_FIELDS.unpack(header[:HEADER_FIXED_SIZE])
        magic, version = fixed.bytes_("magic"), fixed.int_("format_version")
        header_size, chunk_size = fixed.int_("header_size"), fixed.int_("chunk_size")
        salt = fixed.bytes_("salt")
        if magic != MAGIC:
            raise PackageFormatError("not a veil package (bad magic)")
        if version != FORMAT_VERSION:
            raise PackageFormatError(f"unsupported veil package format version {version}")
        if not HEADER_FIXED_SIZE < header_size <= MAX_HEADER_BYTES or header_size != len(header):
            raise PackageFormatError("package header size is out of range or truncated")
        if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise PackageFormatError(f"package chunk size {chunk_size} is out of range")
        values: dict[str, bytes] = {}
        offset = HEADER_FIXED_SIZE
        for name, prefix, limit in HEADER_VARIABLE_FIELDS:
            width = struct.calcsize(prefix)
            if offset + width > header_size:
                raise PackageFormatError(f"package header truncated before {name}")
            (length,) = struct.unpack_from(prefix, header, offset)
            offset += width
            if length > limit or offset + length > header_size:
                raise PackageFormatError(f"package header {name} is too long or truncated")
            values[name] = header[offset : offset + length]
            offset += length
        if offset != header_size:
            raise PackageFormatError("package header has trailing bytes")
        if len(trailer) != TRAILER_SIZE or trailer[:8] != TRAILER_MAGIC:
            raise PackageFormatError("package trailer is missing or malformed (truncated file?)")
        body_size = file_size - header_size - TRAILER_SIZE
        if body_size < TAG_SIZE:
            raise PackageFormatError("package body is truncated")
        if not _KEY_ID_RE.fullmatch(values["key_id"]):
            raise PackageFormatError("package key id is malformed")
        security = SecurityConfig.from_json(values["security_config"])
        app_name = values["app_name"].decode("ascii", errors="replace")
        if app_name != security.name:
            raise PackageFormatError("package app name does not match its security config")
        return cls(
            format_version=version,
            app_name=app_name,
            key_id=values["key_id"].decode("ascii"),
            chunk_size=chunk_size,
            salt=salt,
            security_config=security,
            security_config_json=values["security_config"],
            fingerprint=format_tagged_sha256(trailer[8:]),
            header_bytes=header,
            body_offset=header_size,
            body_size=body_size,
        )

    @property
    def aad(self) -> bytes:
        """Associated data of every body chunk: SHA-256 of the exact header bytes."""
        return hashlib.sha256(self.header_bytes).digest()


def encode_header(
    *, app_name: str, key_id: str, chunk_size: int, salt: bytes, security_config: bytes
) -> bytes:
    variable = b""
    for (_, prefix, limit), value in zip(
        HEADER_VARIABLE_FIELDS,
        (app_name.encode("ascii"), key_id.encode("ascii"), security_config),
        strict=True,
    ):
        if len(value) > limit:
            raise ValueError(f"header field longer than {limit} bytes")
        variable += struct.pack(prefix, len(value)) + value
    size = HEADER_FIXED_SIZE + len(variable)
    fixed = HEADER_FIXED_FIELDS.pack(
        magic=MAGIC,
        format_version=FORMAT_VERSION,
        header_size=size,
        chunk_size=chunk_size,
        salt=salt,
    )
    return fixed + variable


def read_package_header(path: Path) -> PackageHeader:
    """Read and parse a package's clear header and trailer; no key needed.

    ``PackageFormatError`` if malformed, ``OperationError`` if unreadable.
    """
    try:
        with path.open("rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            start = f.read(HEADER_FIXED_SIZE)
            if len(start) == HEADER_FIXED_SIZE and start[:8] == MAGIC:
                (declared,) = struct.unpack_from("<I", start, 10)
                if HEADER_FIXED_SIZE < declared <= MAX_HEADER_BYTES:
                    start += f.read(declared - HEADER_FIXED_SIZE)
            trailer = b""
            if file_size >= len(start) + TRAILER_SIZE:
                f.seek(file_size - TRAILER_SIZE)
                trailer = f.read(TRAILER_SIZE)
    except OSError as e:
        raise OperationError(f"cannot read {path}: {e.strerror or e}") from e
    return PackageHeader.from_parts(start, trailer, file_size=file_size)


@dataclass(frozen=True)
class PackageInfo:
    name: str
    fingerprint: str
    key_id: str
    path: Path
    size: int
    archive_sha256: str


def write_package(
    source: AppSource,
    dst: Path,
    *,
    key: CodeKey,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    overwrite: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> PackageInfo:
    """Archive, fingerprint and encrypt ``source`` into ``dst`` in one streaming pass.

    The archive is produced, hashed and encrypted chunk by chunk, so memory does not grow with
    the app's size. ``dst`` appears atomically once complete; ``OperationError`` if it exists
    (unless ``overwrite``). ``on_progress`` receives increments of archive bytes.
    """
    security_json = source.security.to_json()
    salt = secrets.token_bytes(SALT_SIZE)
    header = encode_header(
        app_name=source.config.name,
        key_id=key.key_id,
        chunk_size=chunk_size,
        salt=salt,
        security_config=security_json,
    )
    stream_key = derive_stream_key(key.secret_bytes(), salt=salt, info=BODY_KEY_INFO)
    if dst.exists() and not overwrite:
        raise OperationError(f"{dst} already exists; refusing to overwrite it")
    partial = dst.with_name(f".{dst.name}.{secrets.token_hex(8)}.partial")
    try:
        with partial.open("xb") as out:
            out.write(header)
            reader = HashingReader(source.plan.open())
            try:
                encrypt_stream(
                    cast(BinaryIO, reader),
                    out,
                    key=stream_key,
                    aad=hashlib.sha256(header).digest(),
                    chunk_size=chunk_size,
                    on_progress=on_progress,
                )
            finally:
                reader.close()
            archive_sha256 = reader.digest()
            fingerprint = compute_fingerprint(
                archive_sha256=archive_sha256, security_config=security_json
            )
            out.write(TRAILER_MAGIC + parse_tagged_sha256(fingerprint))
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
        _publish(partial, dst, overwrite=overwrite)
    except OSError as e:
        raise OperationError(f"cannot write {dst}: {e.strerror or e}") from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return PackageInfo(
        name=source.config.name,
        fingerprint=fingerprint,
        key_id=key.key_id,
        path=dst,
        size=size,
        archive_sha256=format_tagged_sha256(archive_sha256),
    )


def _publish(partial: Path, dst: Path, *, overwrite: bool) -> None:
    if overwrite:
        partial.replace(dst)
    else:
        try:
            # link() fails if dst exists: no window in which another file could be replaced.
            os.link(partial, dst)
        except FileExistsError:
            raise OperationError(f"{dst} already exists; refusing to overwrite it") from None
    # The file's data was fsync'd; the rename (or link) survives a crash only once its
    # directory is on disk too.
    fsync_directory(dst.parent)


class _BodyReader(io.RawIOBase):
    """Exactly ``size`` bytes of ``f`` from its current position."""

    def __init__(self, f: io.FileIO, size: int) -> None:
        super().__init__()
        self._f = f
        self._remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")[: self._remaining]
        n = self._f.readinto(view) or 0
        self._remaining -= n
        return n


@dataclass(frozen=True)
class DecryptedPackage:
    header: PackageHeader
    directory: Path


def decrypt_package(
    path: Path,
    *,
    key: CodeKey,
    dest_dir: Path,
    on_progress: Callable[[int], None] | None = None,
) -> DecryptedPackage:
    """Decrypt, verify and extract a package into the new directory ``dest_dir``.

    The archive is authenticated chunk by chunk, its fingerprint recomputed from the decrypted
    bytes and the header's security config and compared with the trailer, and the vendored
    wheels checked against their lock. Extraction goes to a staging directory renamed to
    ``dest_dir`` only on full success. Every failure that depends on the key or the package
    contents raises the one opaque :class:`DecryptionError` and leaves nothing behind;
    ``OperationError`` if ``dest_dir`` exists or the disk fails.
    """
    if dest_dir.exists():
        raise OperationError(f"{dest_dir} already exists; refusing to overwrite it")
    try:
        header = read_package_header(path)
    except FormatError:
        raise DecryptionError from None
    if header.key_id != key.key_id:
        raise DecryptionError
    stream_key = derive_stream_key(key.secret_bytes(), salt=header.salt, info=BODY_KEY_INFO)
    try:
        with staging_directory(dest_dir) as staging:
            _decrypt_into(path, header, stream_key, staging, on_progress)
    except FormatError:
        # Includes DecryptionError itself, and archive or lock errors inside authenticated
        # data: one opaque failure either way.
        raise DecryptionError from None
    return DecryptedPackage(header=header, directory=dest_dir)


def _decrypt_into(
    path: Path,
    header: PackageHeader,
    stream_key: bytes,
    staging: Path,
    on_progress: Callable[[int], None] | None,
) -> None:
    extractor = ArchiveExtractor(staging)
    try:
        with io.FileIO(path, "rb") as f:
            f.seek(header.body_offset)
            decrypt_stream(
                cast(BinaryIO, _BodyReader(f, header.body_size)),
                cast(BinaryIO, extractor),
                key=stream_key,
                aad=header.aad,
                chunk_size=header.chunk_size,
                on_progress=on_progress,
            )
        archive_sha256 = extractor.finish()
    except OSError as e:
        raise OperationError(f"cannot read {path}: {e.strerror or e}") from e
    finally:
        extractor.close()
    recomputed = compute_fingerprint(
        archive_sha256=archive_sha256, security_config=header.security_config_json
    )
    if not is_same_fingerprint(recomputed, header.fingerprint):
        raise DecryptionError
    _check_declared_files(staging, header.security_config)


def _check_declared_files(root: Path, security: SecurityConfig) -> None:
    """The lock and certificate digests in the security config must match the archive."""
    expected = (
        (LOCK_PATH, security.dependency_lock_sha256),
        (security.tls_certificate, security.tls_certificate_sha256),
    )
    for relpath, digest in expected:
        if relpath is None or digest is None:
            continue
        try:
            data = (root / relpath).read_bytes()
        except OSError:
            raise DecryptionError from None
        if not hmac.compare_digest(sha256_tagged(data).encode(), digest.encode()):
            raise DecryptionError
    if security.dependency_lock_sha256 is not None:
        try:
            verify_vendored(root)
        except OSError:
            raise DecryptionError from None
