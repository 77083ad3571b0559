"""veil.crypto: the only user of ciphers — streaming AEAD, HPKE sealing, key files, digests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.crypto.digest import format_tagged_sha256, parse_tagged_sha256, sha256_tagged
    from veil.crypto.hpke import (
        DEFAULT_SEALING_SUITE,
        SealingPrivateKey,
        SealingPublicKey,
        SealingSuite,
    )
    from veil.crypto.kdf import derive_stream_key
    from veil.crypto.keys import CodeKey, read_code_key, write_code_key
    from veil.crypto.stream import decrypt_stream, encrypt_stream

__all__ = [
    "DEFAULT_SEALING_SUITE",
    "CodeKey",
    "SealingPrivateKey",
    "SealingPublicKey",
    "SealingSuite",
    "decrypt_stream",
    "derive_stream_key",
    "encrypt_stream",
    "format_tagged_sha256",
    "parse_tagged_sha256",
    "read_code_key",
    "sha256_tagged",
    "write_code_key",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "digest": ("format_tagged_sha256", "parse_tagged_sha256", "sha256_tagged"),
        "hpke": ("DEFAULT_SEALING_SUITE", "SealingPrivateKey", "SealingPublicKey", "SealingSuite"),
        "kdf": ("derive_stream_key",),
        "keys": ("CodeKey", "read_code_key", "write_code_key"),
        "stream": ("decrypt_stream", "encrypt_stream"),
    },
)
