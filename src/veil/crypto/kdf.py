"""Key derivation: HKDF-SHA256 (RFC 5869) from a code key to per-stream keys."""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["MIN_SALT_SIZE", "STREAM_KEY_SIZE", "derive_stream_key"]

#: Length of a derived AES-256 stream key, in bytes.
STREAM_KEY_SIZE: Final = 32
#: Shortest accepted salt, in bytes: the salt is what makes each stream key fresh, so it must
#: be random and wide enough that two packages never share one (128 bits).
MIN_SALT_SIZE: Final = 16


def derive_stream_key(code_key: bytes, *, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA256(ikm=code_key, salt, info) -> 32-byte key for :mod:`veil.crypto.stream`.

    ``salt`` must be fresh random bytes per stream (at least ``MIN_SALT_SIZE``) and ``info`` a
    domain-separation label naming the purpose, so that one code key can encrypt many streams
    without ever reusing a (key, nonce) pair.
    """
    if len(code_key) != 32:
        raise ValueError(f"code key must be 32 bytes, got {len(code_key)}")
    if len(salt) < MIN_SALT_SIZE:
        raise ValueError(f"salt must be at least {MIN_SALT_SIZE} bytes, got {len(salt)}")
    return HKDF(algorithm=SHA256(), length=STREAM_KEY_SIZE, salt=salt, info=info).derive(code_key)
