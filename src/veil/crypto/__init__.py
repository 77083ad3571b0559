"""veil.crypto: the only user of ciphers — streaming AEAD, HPKE sealing, key files, digests."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

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

# Loaded on first use: importing the package (e.g. for `veil --version`) stays cheap.
_EXPORTS: Final = {
    "CodeKey": "veil.crypto.keys",
    "DEFAULT_SEALING_SUITE": "veil.crypto.hpke",
    "SealingPrivateKey": "veil.crypto.hpke",
    "SealingPublicKey": "veil.crypto.hpke",
    "SealingSuite": "veil.crypto.hpke",
    "decrypt_stream": "veil.crypto.stream",
    "derive_stream_key": "veil.crypto.kdf",
    "encrypt_stream": "veil.crypto.stream",
    "format_tagged_sha256": "veil.crypto.digest",
    "parse_tagged_sha256": "veil.crypto.digest",
    "read_code_key": "veil.crypto.keys",
    "sha256_tagged": "veil.crypto.digest",
    "write_code_key": "veil.crypto.keys",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
