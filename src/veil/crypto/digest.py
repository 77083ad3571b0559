"""Tagged SHA-256 digests in text form: ``sha256:<64 lowercase hex digits>``."""

from __future__ import annotations

import hashlib
from typing import BinaryIO, Final

from veil.errors import FormatError

__all__ = [
    "SHA256_PREFIX",
    "SHA256_SIZE",
    "format_tagged_sha256",
    "parse_tagged_sha256",
    "sha256_tagged",
    "sha256_tagged_stream",
]

SHA256_PREFIX: Final = "sha256:"
SHA256_SIZE: Final = 32
_HEX_DIGITS: Final = frozenset("0123456789abcdef")
#: Read size for hashing a stream, in bytes (a multiple of the SHA-256 block).
_STREAM_READ_SIZE: Final = 1024 * 1024


def format_tagged_sha256(digest: bytes) -> str:
    """Render a raw 32-byte SHA-256 digest as ``sha256:<hex>``."""
    if len(digest) != SHA256_SIZE:
        raise ValueError(f"a SHA-256 digest is {SHA256_SIZE} bytes, got {len(digest)}")
    return SHA256_PREFIX + digest.hex()


def sha256_tagged(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return format_tagged_sha256(hashlib.sha256(data).digest())


def sha256_tagged_stream(src: BinaryIO) -> str:
    """``sha256:<hex>`` of everything readable from ``src``, in bounded memory."""
    hasher = hashlib.sha256()
    while block := src.read(_STREAM_READ_SIZE):
        hasher.update(block)
    return format_tagged_sha256(hasher.digest())


def parse_tagged_sha256(text: str) -> bytes:
    """The raw 32 bytes of a ``sha256:<64 lowercase hex>`` string; ``FormatError`` otherwise.

    Only the canonical form is accepted (lowercase, no whitespace), so one digest has exactly one
    spelling and string comparison of tagged digests is sound.
    """
    if not isinstance(text, str):
        raise FormatError("digest must be a string")
    if not text.startswith(SHA256_PREFIX):
        raise FormatError(f"digest must start with {SHA256_PREFIX!r}")
    hex_part = text[len(SHA256_PREFIX) :]
    if len(hex_part) != 2 * SHA256_SIZE:
        raise FormatError(
            f"digest must have {2 * SHA256_SIZE} hex digits after the prefix, got {len(hex_part)}"
        )
    if not _HEX_DIGITS.issuperset(hex_part):
        raise FormatError("digest must be lowercase hexadecimal")
    return bytes.fromhex(hex_part)
