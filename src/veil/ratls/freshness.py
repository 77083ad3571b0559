"""Freshness of evidence: the attested key's signature over a verifier's nonce (ADR 0012)."""

from __future__ import annotations

import hashlib
import struct
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from veil.errors import BindingError, ConfigError
from veil.ratls.extension import MAX_NONCE_BYTES

__all__ = [
    "FRESHNESS_LABEL",
    "FreshnessError",
    "FreshnessSignatureError",
    "MissingFreshnessError",
    "NonceMismatchError",
    "freshness_message",
    "parse_nonce_hex",
    "sign_freshness",
    "verify_freshness",
]

#: Domain separation label; the trailing NUL ends it, so no other message the TLS key signs (a
#: certificate, a TLS handshake transcript) can be read as this one.
FRESHNESS_LABEL: Final = b"veil/evidence-freshness/v1\x00"
_INSTANCE_ID_BYTES: Final = 32


class FreshnessError(BindingError):
    """Evidence does not prove it answers the verifier's nonce."""


class MissingFreshnessError(FreshnessError):
    """A nonce was asked (or is stated) but the evidence carries no signature over it."""


class NonceMismatchError(FreshnessError):
    """The evidence answers another nonce than the one the verifier sent (a replay)."""


class FreshnessSignatureError(FreshnessError):
    """The nonce signature is not the attested certificate key's over this answer."""


def parse_nonce_hex(text: str, *, option: str = "--nonce") -> bytes:
    """A verifier nonce given as hex on a command line; ``ConfigError`` naming ``option``."""
    try:
        nonce = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"{option} must be hex digits") from None
    if not 0 < len(nonce) <= MAX_NONCE_BYTES:
        raise ConfigError(f"{option} must be 1 to {MAX_NONCE_BYTES} bytes")
    return nonce


def freshness_message(*, nonce: bytes, instance_id: str, certificate_der: bytes) -> bytes:
    """What the attested key signs to answer ``nonce``.

    ``label ‖ u32le(len) ‖ nonce ‖ u32le(len) ‖ instance id (ASCII) ‖ SHA-256(certificate DER)``.
    The length prefixes make it injective; the certificate digest ties the answer to one
    attested certificate (its key, quote, sealing key and claims), the instance id to one node.
    """
    if not 0 < len(nonce) <= MAX_NONCE_BYTES:
        raise ValueError(f"a nonce is 1 to {MAX_NONCE_BYTES} bytes")
    instance = instance_id.encode("ascii")
    if len(instance) != _INSTANCE_ID_BYTES:
        raise ValueError("an instance id is 32 hex digits")
    return b"".join(
        (
            FRESHNESS_LABEL,
            struct.pack("<I", len(nonce)),
            nonce,
            struct.pack("<I", len(instance)),
            instance,
            hashlib.sha256(certificate_der).digest(),
        )
    )


def sign_freshness(
    key: ec.EllipticCurvePrivateKey, *, nonce: bytes, instance_id: str, certificate_der: bytes
) -> bytes:
    """ECDSA-SHA256 (DER) by ``key``, the attested certificate's key, over the answer to
    ``nonce``."""
    message = freshness_message(
        nonce=nonce, instance_id=instance_id, certificate_der=certificate_der
    )
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def verify_freshness(
    signature: bytes, *, certificate: x509.Certificate, nonce: bytes, instance_id: str
) -> None:
    """Check that ``certificate``'s key signed the answer to ``nonce`` for ``instance_id``.

    The caller has verified (or will verify) ``certificate`` itself: this proves only that its
    key was used after the verifier chose ``nonce``.
    """
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise FreshnessSignatureError("the attested certificate's key is not ECDSA P-256")
    message = freshness_message(
        nonce=nonce,
        instance_id=instance_id,
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
    )
    try:
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise FreshnessSignatureError(
            "the nonce signature is not by the attested certificate's key over this nonce, "
            "instance and certificate (a replayed or forged answer)"
        ) from None
