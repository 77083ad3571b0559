"""Sealing-key derivation shared by the backends: HKDF-SHA256 over a platform sealing root."""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.enclave.backends.interface import SEALING_KEY_SIZE, check_sealing_label

__all__ = ["derive_sealing_key"]

_INFO_LABEL: Final = b"veil/sealing-key/v1\x00"
#: Shortest accepted sealing root, in bytes: SGX's EGETKEY seal key is 128 bits.
_MIN_ROOT_SIZE: Final = 16


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def derive_sealing_key(root: bytes, *, backend: str, label: str, identity: bytes) -> bytes:
    """32-byte key = HKDF-SHA256(ikm=root, salt=none, info=label ‖ backend ‖ label ‖ identity).

    ``root`` is the platform secret (SGX EGETKEY key, the simulated platform secret); it is
    never used directly, only through this KDF (Gramine warns against reusing its special keys
    without one). ``identity`` is the attested identity (runtime and app) so that a different
    app or runtime on the same platform derives a different key. Each field is length-prefixed
    so no two (backend, label, identity) triples share an encoding.
    """
    if len(root) < _MIN_ROOT_SIZE:
        raise ValueError(f"sealing root must be at least {_MIN_ROOT_SIZE} bytes")
    if not identity:
        raise ValueError("sealing identity must not be empty")
    info = (
        _INFO_LABEL
        + _length_prefixed(backend.encode("ascii"))
        + _length_prefixed(check_sealing_label(label))
        + _length_prefixed(identity)
    )
    return HKDF(algorithm=SHA256(), length=SEALING_KEY_SIZE, salt=None, info=info).derive(root)
