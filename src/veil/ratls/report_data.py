"""The 64 bytes an enclave puts in its quote's report_data to bind its RA-TLS and sealing keys."""

from __future__ import annotations

import hashlib
import struct
from typing import Final

__all__ = [
    "MAX_BOUND_FIELD_BYTES",
    "RATLS_REPORT_DATA_LABEL",
    "ratls_report_data",
]

#: Domain separation label; the trailing NUL ends it so no other veil digest input can collide.
RATLS_REPORT_DATA_LABEL: Final = b"veil/ratls-report-data/v1\x00"
#: Largest field accepted, in bytes: keys are at most a few KiB (ML-KEM-768+X25519 is 1216 B),
#: so 64 KiB bounds the input without ever rejecting a real key.
MAX_BOUND_FIELD_BYTES: Final = 64 * 1024


def ratls_report_data(
    tls_spki_der: bytes, sealing_public_key: bytes, *, nonce: bytes = b""
) -> bytes:
    """SHA-512 over the label and the length-prefixed fields; exactly 64 bytes.

    ``label ‖ u32le(len) ‖ TLS SubjectPublicKeyInfo DER ‖ u32le(len) ‖ sealing public key (raw)
    ‖ u32le(len) ‖ nonce``. Length prefixes make the encoding injective, so one report_data
    names exactly one (TLS key, sealing key, nonce) triple.
    """
    if not tls_spki_der:
        raise ValueError("the TLS public key must not be empty")
    if not sealing_public_key:
        raise ValueError("the sealing public key must not be empty")
    hasher = hashlib.sha512(RATLS_REPORT_DATA_LABEL)
    for field in (tls_spki_der, sealing_public_key, nonce):
        if len(field) > MAX_BOUND_FIELD_BYTES:
            raise ValueError(f"a bound field is limited to {MAX_BOUND_FIELD_BYTES} bytes")
        hasher.update(struct.pack("<I", len(field)))
        hasher.update(field)
    return hasher.digest()
