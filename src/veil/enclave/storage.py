"""Sealed storage: files encrypted at rest under a key only this enclave and app can derive."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Protocol

from veil._io import fsync_directory, read_bounded, write_atomic
from veil._layout import Layout
from veil.crypto.digest import parse_tagged_sha256
from veil.crypto.kdf import derive_stream_key
from veil.crypto.stream import DEFAULT_CHUNK_SIZE, decrypt_stream, encrypt_stream
from veil.errors import DecryptionError, FormatError

__all__ = [
    "APP_DATA_LABEL",
    "MAX_SEALED_FILE_BYTES",
    "MAX_SEALED_NAME_BYTES",
    "SEALED_FILE_HEADER_SIZE",
    "SEALED_FILE_MAGIC",
    "SEALED_FILE_VERSION",
    "SECRETS_LABEL",
    "SealedDirectory",
    "SealingKeySource",
    "StorageKey",
    "derive_storage_key",
    "read_sealed_file",
    "write_sealed_file",
]

#: Backend sealing-key label of the app's data directory.
APP_DATA_LABEL: Final = "veil/app-data/v1"
#: Backend sealing-key label of the re-sealed provisioning secrets.
SECRETS_LABEL: Final = "veil/secrets/v1"

SEALED_FILE_MAGIC: Final = b"VEILSDAT"
SEALED_FILE_VERSION: Final = 1
SEALED_FILE_HEADER_SIZE: Final = 32
#: The header is authenticated as part of the AAD, so the version and chunk size cannot be
#: changed.
SEALED_FILE_HEADER: Final = Layout.of(
    "sealed file header",
    SEALED_FILE_HEADER_SIZE,
    (
        ("magic", 0, "<8s"),
        ("version", 8, "<H"),
        ("reserved", 10, "<H"),
        ("salt", 12, "<16s"),
        ("chunk_size", 28, "<I"),
    ),
)
_SALT_SIZE: Final = 16
#: Largest plaintext a sealed file may hold, in bytes: files are read whole into enclave
#: memory (which is scarce under SGX), so larger data belongs in several files.
MAX_SEALED_FILE_BYTES: Final = 64 * 1024 * 1024
#: Longest logical file name, in UTF-8 bytes.
MAX_SEALED_NAME_BYTES: Final = 255

_ROOT_INFO: Final = b"veil/sealed-storage/v1\x00"
_NAME_INFO: Final = b"veil/sealed-storage-names/v1\x00"
_FILE_INFO: Final = b"veil/sealed-file/v1\x00"
#: On-disk names are 128-bit keyed hashes of the logical name, so the operator learns neither
#: the names nor which logical file a disk file is.
_FILE_ID_HEX_CHARS: Final = 32
_SUFFIX: Final = ".sealed"
_FILE_ID_RE: Final = re.compile(r"[0-9a-f]{32}\.sealed")


class SealingKeySource(Protocol):
    """What storage needs from a TEE backend (``veil.enclave.backends.interface.Backend``)."""

    def sealing_key(self, label: str) -> bytes: ...


class StorageKey:
    """The two keys of one sealed store: file encryption and name hiding. ``repr`` hides them."""

    __slots__ = ("_data_key", "_name_key")

    def __init__(self, *, data_key: bytes, name_key: bytes) -> None:
        if len(data_key) != 32 or len(name_key) != 32:
            raise ValueError("storage keys are 32 bytes")
        self._data_key = data_key
        self._name_key = name_key

    def file_id(self, name: str) -> str:
        """The on-disk stem of logical ``name``: HMAC-SHA256 under the name key, truncated."""
        encoded = _check_name(name)
        digest = hmac.new(self._name_key, encoded, hashlib.sha256).hexdigest()
        return digest[:_FILE_ID_HEX_CHARS]

    def __repr__(self) -> str:
        return "StorageKey(<hidden>)"


def derive_storage_key(sealing_key: bytes, *, fingerprint: str, purpose: str) -> StorageKey:
    """Keys for one store, from the backend sealing key and the app fingerprint.

    The backend key already depends on the attested runtime and app identity on hardware; the
    fingerprint is mixed in again so that even a backend whose key ignores the app (e.g. a
    misconfigured one) never lets another app open this app's files.
    """
    if len(sealing_key) != 32:
        raise ValueError("a backend sealing key is 32 bytes")
    app = parse_tagged_sha256(fingerprint)
    label = purpose.encode("utf-8")
    return StorageKey(
        data_key=derive_stream_key(sealing_key, salt=app, info=_ROOT_INFO + label),
        name_key=derive_stream_key(sealing_key, salt=app, info=_NAME_INFO + label),
    )


def _check_name(name: str) -> bytes:
    if not isinstance(name, str):
        raise TypeError("a sealed file name is a string")
    encoded = name.encode("utf-8")
    if not encoded or len(encoded) > MAX_SEALED_NAME_BYTES or "\x00" in name:
        raise ValueError(f"a sealed file name is 1-{MAX_SEALED_NAME_BYTES} UTF-8 bytes, no NUL")
    return encoded


def _seal(key: StorageKey, file_id: str, name: str, data: bytes) -> bytes:
    if len(data) > MAX_SEALED_FILE_BYTES:
        raise ValueError(f"a sealed file holds at most {MAX_SEALED_FILE_BYTES} bytes")
    salt = secrets.token_bytes(_SALT_SIZE)
    header = SEALED_FILE_HEADER.pack(
        magic=SEALED_FILE_MAGIC,
        version=SEALED_FILE_VERSION,
        reserved=0,
        salt=salt,
        chunk_size=DEFAULT_CHUNK_SIZE,
    )
    encoded = _check_name(name)
    plaintext = struct.pack("<H", len(encoded)) + encoded + data
    file_key = derive_stream_key(key._data_key, salt=salt, info=_FILE_INFO + file_id.encode())
    out = io.BytesIO()
    out.write(header)
    encrypt_stream(
        io.BytesIO(plaintext),
        out,
        key=file_key,
        aad=header + file_id.encode("ascii"),
        chunk_size=DEFAULT_CHUNK_SIZE,
    )
    return out.getvalue()


def _open(key: StorageKey, file_id: str, blob: bytes) -> tuple[str, bytes]:
    """Authenticate and decrypt one sealed file; any failure is the opaque DecryptionError."""
    if len(blob) < SEALED_FILE_HEADER_SIZE:
        raise DecryptionError
    header = blob[:SEALED_FILE_HEADER_SIZE]
    fields = SEALED_FILE_HEADER.unpack(header)
    if (
        fields.bytes_("magic") != SEALED_FILE_MAGIC
        or fields.int_("version") != SEALED_FILE_VERSION
        or fields.int_("reserved") != 0
    ):
        raise DecryptionError
    salt, chunk_size = fields.bytes_("salt"), fields.int_("chunk_size")
    file_key = derive_stream_key(key._data_key, salt=salt, info=_FILE_INFO + file_id.encode())
    out = io.BytesIO()
    try:
        decrypt_stream(
            io.BytesIO(blob[SEALED_FILE_HEADER_SIZE:]),
            out,
            key=file_key,
            aad=header + file_id.encode("ascii"),
            chunk_size=chunk_size,
        )
    except FormatError:
        raise DecryptionError from None
    plaintext = out.getvalue()
    if len(plaintext) < 2:
        raise DecryptionError
    (name_size,) = struct.unpack_from("<H", plaintext)
    if len(plaintext) < 2 + name_size:
        raise DecryptionError
    try:
        name = plaintext[2 : 2 + name_size].decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError from None
    return name, plaintext[2 + name_size :]


def _atomic_write(path: Path, data: bytes) -> None:
    write_atomic(path, data, mode=0o600, what="sealed file")


def _read_limited(path: Path) -> bytes | None:
    limit = SEALED_FILE_HEADER_SIZE + MAX_SEALED_FILE_BYTES + 2 + MAX_SEALED_NAME_BYTES
    limit += (limit // DEFAULT_CHUNK_SIZE + 1) * 16
    try:
        return read_bounded(path, max_bytes=limit, what="sealed file", missing_ok=True)
    except FormatError:
        # Oversized is one more way not to open: the same opaque error, no oracle.
        raise DecryptionError from None


def write_sealed_file(path: Path, data: bytes, *, key: StorageKey, name: str) -> None:
    """Seal ``data`` into ``path`` atomically; ``name`` is bound in (read it back with it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _atomic_write(path, _seal(key, key.file_id(name), name, data))


def read_sealed_file(path: Path, *, key: StorageKey, name: str) -> bytes | None:
    """The plaintext sealed in ``path`` under ``name``, ``None`` if there is no such file, the
    opaque ``DecryptionError`` if it does not open (other key, other name, tampered)."""
    blob = _read_limited(path)
    if blob is None:
        return None
    stored_name, data = _open(key, key.file_id(name), blob)
    if stored_name != name:
        raise DecryptionError
    return data


class SealedDirectory:
    """A flat directory of sealed files with a small file API (names are any strings).

    Each file is sealed on its own (STREAM AES-256-GCM under a per-file key derived from a
    random salt), its logical name and the format version are authenticated, writes are atomic.
    Sealing cannot stop the operator from deleting files or putting back an older copy of one
    (no monotonic counter): apps that need rollback protection must keep it elsewhere.
    """

    def __init__(self, path: Path, *, key: StorageKey) -> None:
        self._path = path
        self._key = key

    @property
    def path(self) -> Path:
        """Where the sealed files live (the operator can see them, not read them)."""
        return self._path

    def _file(self, name: str) -> Path:
        return self._path / (self._key.file_id(name) + _SUFFIX)

    def write_bytes(self, name: str, data: bytes) -> None:
        self._path.mkdir(mode=0o700, parents=True, exist_ok=True)
        file_id = self._key.file_id(name)
        _atomic_write(self._path / (file_id + _SUFFIX), _seal(self._key, file_id, name, data))

    def read_bytes(self, name: str) -> bytes:
        """The file's content; ``FileNotFoundError`` if absent, ``DecryptionError`` if it does
        not open under this enclave's key."""
        data = read_sealed_file(self._file(name), key=self._key, name=name)
        if data is None:
            raise FileNotFoundError(name)
        return data

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode("utf-8")

    def exists(self, name: str) -> bool:
        return self._file(name).is_file()

    def delete(self, name: str) -> None:
        """Remove the file; ``FileNotFoundError`` if absent."""
        self._file(name).unlink()
        fsync_directory(self._path)

    def names(self) -> Iterator[str]:
        """The logical names of every file that opens under this key (others are skipped)."""
        if not self._path.is_dir():
            return
        for entry in sorted(self._path.iterdir()):
            if not _FILE_ID_RE.fullmatch(entry.name):
                continue
            blob = _read_limited(entry)
            if blob is None:
                continue
            try:
                name, _ = _open(self._key, entry.name.removesuffix(_SUFFIX), blob)
            except DecryptionError:
                continue
            yield name

    def __repr__(self) -> str:
        return f"SealedDirectory({str(self._path)!r})"
