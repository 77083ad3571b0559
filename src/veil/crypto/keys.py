"""The owner's 256-bit code key: generation, text form and key files."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Final

from veil._io import read_bounded
from veil.crypto.keyfiles import (
    decode_key_base64,
    encode_key_text,
    parse_key_text,
    write_key_file,
)
from veil.errors import FormatError

__all__ = [
    "CODE_KEY_SIZE",
    "CODE_KEY_VERSION_LINE",
    "MAX_CODE_KEY_FILE_BYTES",
    "CodeKey",
    "compute_key_id",
    "read_code_key",
    "write_code_key",
]

#: Code key length in bytes (AES-256 / HKDF input keying material).
CODE_KEY_SIZE: Final = 32
#: First line of a code key file; a reader refuses any other version.
CODE_KEY_VERSION_LINE: Final = "veil-code-key v1"
#: Largest code key file read, in bytes: a valid one is about 130 bytes, so anything much
#: larger is not a key file and is refused before parsing.
MAX_CODE_KEY_FILE_BYTES: Final = 4096

_KEY_ID_PREFIX: Final = "k1_"
_KEY_ID_LABEL: Final = b"veil/code-key-id/v1\x00"
#: Truncated SHA-256 length of a key id, in bytes (128 bits: collisions cannot be forged).
_KEY_ID_DIGEST_SIZE: Final = 16
_FIELDS: Final = ("key-id", "key")


def compute_key_id(secret: bytes) -> str:
    """Public, one-way identifier of a code key: ``k1_`` + hex(SHA-256(label ‖ key)[:16])."""
    digest = hashlib.sha256(_KEY_ID_LABEL + secret).digest()
    return _KEY_ID_PREFIX + digest[:_KEY_ID_DIGEST_SIZE].hex()


class CodeKey:
    """A 256-bit symmetric code key, immutable. ``repr``/``str`` show only the public ``key_id``.

    Deliberately not a dataclass, so that ``dataclasses.asdict`` of an object holding a key
    cannot spill the secret.
    """

    __slots__ = ("_secret", "key_id")

    _secret: bytes
    key_id: str

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) != CODE_KEY_SIZE:
            raise ValueError(f"a code key is {CODE_KEY_SIZE} bytes")
        object.__setattr__(self, "_secret", secret)
        object.__setattr__(self, "key_id", compute_key_id(secret))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CodeKey is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("CodeKey is immutable")

    def __reduce__(self) -> tuple[type[CodeKey], tuple[bytes]]:
        return (CodeKey, (self._secret,))

    @classmethod
    def generate(cls) -> CodeKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(CODE_KEY_SIZE))

    @classmethod
    def from_bytes(cls, secret: bytes) -> CodeKey:
        """A key from its raw 32 bytes; ``FormatError`` on any other length."""
        if len(secret) != CODE_KEY_SIZE:
            raise FormatError(f"a code key is {CODE_KEY_SIZE} bytes, got {len(secret)}")
        return cls(bytes(secret))

    @classmethod
    def from_text(cls, text: str) -> CodeKey:
        """Parse the text form written by :meth:`to_text`; ``FormatError`` naming the problem."""
        declared_id, encoded = parse_key_text(
            text, what="code key", version_line=CODE_KEY_VERSION_LINE, field_names=_FIELDS
        )
        key = cls(decode_key_base64(encoded, what="code key", size=CODE_KEY_SIZE))
        if key.key_id != declared_id:  # the id is public: no need for a constant-time compare
            raise FormatError("code key id does not match the key (file corrupted or edited)")
        return key

    def to_text(self) -> str:
        """The text form: version line, key id, standard padded base64 of the key."""
        encoded = base64.b64encode(self._secret).decode("ascii")
        return encode_key_text(CODE_KEY_VERSION_LINE, [("key-id", self.key_id), ("key", encoded)])

    def secret_bytes(self) -> bytes:
        """The raw key: the only way to get at the secret."""
        return self._secret

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CodeKey):
            return NotImplemented
        return hmac.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __repr__(self) -> str:
        return f"CodeKey(key_id={self.key_id!r})"

    __str__ = __repr__


def write_code_key(path: Path, key: CodeKey, *, overwrite: bool = False) -> None:
    """Write ``key`` to a new file with mode 0600; ``OperationError`` if it exists or fails."""
    write_key_file(path, key.to_text().encode("ascii"), overwrite=overwrite)


def read_code_key(path: Path) -> CodeKey:
    """Read a code key file; ``FormatError`` if malformed, ``OperationError`` if unreadable.

    A file readable by group or others is accepted with a logged warning.
    """
    data = read_bounded(path, max_bytes=MAX_CODE_KEY_FILE_BYTES, what="code key file", private=True)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise FormatError(f"code key file {path} is not ASCII text") from None
    try:
        return CodeKey.from_text(text)
    except FormatError as e:
        raise FormatError(f"{path}: {e}") from None
