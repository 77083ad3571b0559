"""Sealed envelope: an HPKE ciphertext for one enclave, bound to that enclave's identity.

Byte layout (integers little-endian)::

    offset  size  field
    0       8     magic            b"VEILSEAL"
    8       2     version          u16, 1
    10      2     suite            u16, 1 = mlkem768-x25519, 2 = x25519
    12      4     enc_length       u32, must equal the suite's encapsulated key size
    16      4     ciphertext_size  u32, must equal the bytes that follow enc (>= 16)
    20      ...   enc, then ciphertext

HPKE ``info`` is ``b"veil/sealed-envelope/v1" || u32le(len(binding)) || binding`` and HPKE
``aad`` is the 20-byte header, so a blob opens only for the enclave instance it was sealed for,
and no header field can be changed.

Errors: a blob over ``MAX_ENVELOPE_BYTES``, without the magic, or of an unknown version raises
``FormatError`` (these checks read only public bytes and tell a user they passed the wrong file;
they say nothing about keys). Every other problem, whether truncation, a bad length field, a
swapped suite, tampering, another recipient or another binding, raises the opaque
``DecryptionError``.
"""

from __future__ import annotations

import struct
from typing import Final

from veil._layout import Layout
from veil.crypto.hpke import (
    SealingPrivateKey,
    SealingPublicKey,
    SealingSuite,
    enc_size,
    hpke_open,
    hpke_seal,
)
from veil.errors import DecryptionError, FormatError

__all__ = [
    "ENVELOPE_HEADER",
    "ENVELOPE_MAGIC",
    "ENVELOPE_VERSION",
    "HEADER_SIZE",
    "MAX_BINDING_BYTES",
    "MAX_ENVELOPE_BYTES",
    "MAX_SEALED_PLAINTEXT_BYTES",
    "SUITE_IDS",
    "seal",
    "unseal",
]

ENVELOPE_MAGIC: Final = b"VEILSEAL"
ENVELOPE_VERSION: Final = 1
#: Domain-separation label at the start of HPKE ``info``.
INFO_LABEL: Final = b"veil/sealed-envelope/v1"

HEADER_SIZE: Final = 20
#: The envelope header (``docs/formats.md``, "Sealed envelope").
ENVELOPE_HEADER: Final = Layout.of(
    "sealed envelope header",
    HEADER_SIZE,
    (
        ("magic", 0, "<8s"),
        ("version", 8, "<H"),
        ("suite", 10, "<H"),
        ("enc_length", 12, "<I"),
        ("ciphertext_size", 16, "<I"),
    ),
)

SUITE_IDS: Final[dict[SealingSuite, int]] = {
    SealingSuite.MLKEM768_X25519: 1,
    SealingSuite.X25519: 2,
}
_SUITES_BY_ID: Final = {number: suite for suite, number in SUITE_IDS.items()}

#: Largest plaintext sealed, in bytes: secrets (keys, app secrets, a certificate chain) fit in
#: well under this, and the enclave must never allocate unbounded memory for a relayed blob.
MAX_SEALED_PLAINTEXT_BYTES: Final = 1024 * 1024
#: Largest binding, in bytes: an instance id or a digest of evidence is far smaller.
MAX_BINDING_BYTES: Final = 1024
_AEAD_TAG_SIZE: Final = 16
_MAX_ENC_SIZE: Final = max(enc_size(suite) for suite in SealingSuite)
#: Largest envelope accepted, in bytes: header + largest enc + largest plaintext + tag.
MAX_ENVELOPE_BYTES: Final = (
    HEADER_SIZE + _MAX_ENC_SIZE + MAX_SEALED_PLAINTEXT_BYTES + _AEAD_TAG_SIZE
)


def _info(binding: bytes) -> bytes:
    if len(binding) > MAX_BINDING_BYTES:
        raise ValueError(f"binding must be at most {MAX_BINDING_BYTES} bytes")
    return INFO_LABEL + struct.pack("<I", len(binding)) + binding


def seal(plaintext: bytes, *, recipient: SealingPublicKey, binding: bytes) -> bytes:
    """Seal ``plaintext`` to ``recipient``, openable only with the same ``binding``."""
    if len(plaintext) > MAX_SEALED_PLAINTEXT_BYTES:
        raise ValueError(f"plaintext must be at most {MAX_SEALED_PLAINTEXT_BYTES} bytes")
    info = _info(binding)
    suite = recipient.suite
    enc_length = enc_size(suite)
    header = ENVELOPE_HEADER.pack(
        magic=ENVELOPE_MAGIC,
        version=ENVELOPE_VERSION,
        suite=SUITE_IDS[suite],
        enc_length=enc_length,
        ciphertext_size=len(plaintext) + _AEAD_TAG_SIZE,
    )
    enc, ciphertext = hpke_seal(recipient, plaintext, info=info, aad=header)
    if len(enc) != enc_length or len(ciphertext) != len(plaintext) + _AEAD_TAG_SIZE:
        raise RuntimeError("HPKE output sizes differ from the suite's")
    return header + enc + ciphertext


def unseal(envelope: bytes, *, recipient: SealingPrivateKey, binding: bytes) -> bytes:
    """Open an envelope sealed to ``recipient`` with ``binding``.

    ``FormatError`` only for an oversized blob, a missing magic or an unknown version;
    everything else that is wrong raises the opaque ``DecryptionError``.
    """
    if len(envelope) > MAX_ENVELOPE_BYTES:
        raise FormatError(f"sealed envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
    if not envelope.startswith(ENVELOPE_MAGIC):
        raise FormatError("not a veil sealed envelope (bad magic)")
    if len(envelope) < HEADER_SIZE:
        raise DecryptionError
    header = bytes(envelope[:HEADER_SIZE])
    fields = ENVELOPE_HEADER.unpack(header)
    version, suite_id = fields.int_("version"), fields.int_("suite")
    enc_length, ciphertext_size = fields.int_("enc_length"), fields.int_("ciphertext_size")
    if version != ENVELOPE_VERSION:
        raise FormatError(f"unsupported sealed envelope version {version}")
    if len(binding) > MAX_BINDING_BYTES:
        raise DecryptionError
    suite = _SUITES_BY_ID.get(suite_id)
    if (
        suite is not recipient.suite
        or enc_length != enc_size(recipient.suite)
        or ciphertext_size < _AEAD_TAG_SIZE
        or len(envelope) != HEADER_SIZE + enc_length + ciphertext_size
    ):
        raise DecryptionError
    enc = bytes(envelope[HEADER_SIZE : HEADER_SIZE + enc_length])
    ciphertext = bytes(envelope[HEADER_SIZE + enc_length :])
    return hpke_open(recipient, enc, ciphertext, info=_info(binding), aad=header)
