"""The pinned Intel SGX Root CA public key: the only trust anchor of DCAP verification."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "INTEL_SGX_ROOT",
    "INTEL_SGX_ROOT_CA_CERT_SHA256",
    "INTEL_SGX_ROOT_CA_PUBLIC_KEY",
    "TrustAnchor",
]

#: Public key of the production "Intel SGX Root CA" (P-256, SEC1 uncompressed point). The
#: subject name is deliberately not part of the pin: Intel's pre-production (SBX) root carries
#: the same name with another key (see docs/adr/0002-pin-the-vendor-root-key.md).
INTEL_SGX_ROOT_CA_PUBLIC_KEY = bytes.fromhex(
    "04"
    "0ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f5"
    "67918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394"
)

#: SHA-256 of the DER of the root certificate Intel publishes for that key (2018-05-21 to
#: 2049-12-31). Informational: trust follows the key, so a re-issued certificate for the same
#: key still verifies.
INTEL_SGX_ROOT_CA_CERT_SHA256 = bytes.fromhex(
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
)

_P256_UNCOMPRESSED_POINT_BYTES = 65


@dataclass(frozen=True)
class TrustAnchor:
    """A root public key (P-256, SEC1 uncompressed point) that certificate chains must end at."""

    public_key_bytes: bytes
    name: str
    _key: ec.EllipticCurvePublicKey = field(init=False, repr=False, compare=False)
    _spki: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public_key_bytes) != _P256_UNCOMPRESSED_POINT_BYTES:
            raise ValueError("a trust anchor is a 65-byte uncompressed P-256 point")
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.public_key_bytes)
        object.__setattr__(self, "_key", key)
        spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        object.__setattr__(self, "_spki", spki)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key

    @property
    def subject_public_key_info(self) -> bytes:
        """DER SubjectPublicKeyInfo of the key, to compare with a certificate's byte for byte."""
        return self._spki

    @property
    def key_id(self) -> str:
        """Short fingerprint for messages: first 8 bytes of SHA-256 of the point, in hex."""
        return hashlib.sha256(self.public_key_bytes).hexdigest()[:16]

    @classmethod
    def for_testing(cls, public_key_bytes: bytes) -> TrustAnchor:
        """An anchor for a test PKI; only ``trust_anchor_for_testing`` parameters take one."""
        return cls(bytes(public_key_bytes), "test trust anchor")


#: The production anchor every verification uses unless a test injects its own.
INTEL_SGX_ROOT = TrustAnchor(INTEL_SGX_ROOT_CA_PUBLIC_KEY, "Intel SGX Root CA (production)")
