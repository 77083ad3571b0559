"""The instance binding: a digest naming one running enclave that sealed secrets are bound to."""

from __future__ import annotations

import hashlib
import struct
from typing import Final

from veil.errors import FormatError

__all__ = [
    "INSTANCE_BINDING_LABEL",
    "INSTANCE_BINDING_SIZE",
    "INSTANCE_ID_SIZE",
    "MAX_BOUND_KEY_BYTES",
    "format_instance_binding",
    "instance_binding",
    "parse_instance_id",
]

#: Domain separation label; the trailing NUL ends it so no other veil digest can collide.
INSTANCE_BINDING_LABEL: Final = b"veil/instance-binding/v1\x00"
#: Size of an instance binding, in bytes (SHA-256).
INSTANCE_BINDING_SIZE: Final = 32
#: An instance id is 16 random bytes chosen by the host at spawn, written as 32 hex digits.
INSTANCE_ID_SIZE: Final = 16
#: Largest public key accepted in a binding, in bytes: an RSA-8192 SPKI is about 1.1 KiB, so
#: 64 KiB is far above any real key and keeps the u32 length prefix honest.
MAX_BOUND_KEY_BYTES: Final = 64 * 1024


def parse_instance_id(text: str) -> bytes:
    """The 16 raw bytes of an instance id written as 32 lowercase hex digits; ``FormatError``
    otherwise."""
    if not isinstance(text, str) or len(text) != 2 * INSTANCE_ID_SIZE:
        raise FormatError(f"instance id must be {2 * INSTANCE_ID_SIZE} hex digits")
    if text != text.lower():
        raise FormatError("instance id must be lowercase hex")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise FormatError("instance id must be lowercase hex") from None


def instance_binding(
    *, instance_id: str, tls_public_key_der: bytes, sealing_public_key: bytes
) -> bytes:
    """SHA-256 over the label and the length-prefixed fields that identify one node instance.

    ``tls_public_key_der`` is the DER SubjectPublicKeyInfo of the node's RA-TLS certificate (the
    bootstrap key, never the owner's certificate key) and ``sealing_public_key`` the raw HPKE
    public key the owner seals to. Layout (``docs/formats.md``, "Instance binding")::

        label ‖ instance_id (16 B) ‖ u32le len ‖ tls SPKI DER ‖ u32le len ‖ sealing public key

    Every field has a fixed size or a length prefix, so two different tuples never hash the
    same input.
    """
    raw_id = parse_instance_id(instance_id)
    for what, key in (
        ("TLS public key", tls_public_key_der),
        ("sealing public key", sealing_public_key),
    ):
        if not key:
            raise FormatError(f"{what} is empty")
        if len(key) > MAX_BOUND_KEY_BYTES:
            raise FormatError(f"{what} is larger than {MAX_BOUND_KEY_BYTES} bytes")
    hasher = hashlib.sha256(INSTANCE_BINDING_LABEL)
    hasher.update(raw_id)
    hasher.update(struct.pack("<I", len(tls_public_key_der)))
    hasher.update(tls_public_key_der)
    hasher.update(struct.pack("<I", len(sealing_public_key)))
    hasher.update(sealing_public_key)
    return hasher.digest()


def format_instance_binding(binding: bytes) -> str:
    """The text form carried in ``SecretsPayload.instance_binding``: 64 lowercase hex digits.

    The raw 32 bytes are the envelope's HPKE binding; the payload repeats them in text so the
    enclave can also check the binding after opening (defence in depth).
    """
    if len(binding) != INSTANCE_BINDING_SIZE:
        raise ValueError(f"an instance binding is {INSTANCE_BINDING_SIZE} bytes")
    return binding.hex()
