"""HPKE (RFC 9180) single-shot sealing to a recipient key: the only user of ``hpke``.

Two suites, both Base mode with HKDF-SHA256 and AES-256-GCM:

- ``mlkem768-x25519`` (default): the hybrid post-quantum KEM MLKEM768-X25519 of
  draft-ietf-hpke-pq (ML-KEM-768 combined with X25519), as implemented by pyca/cryptography.
  Secure if either component is.
- ``x25519``: DHKEM(X25519, HKDF-SHA256), RFC 9180 ids (KEM 0x0020, KDF 0x0001, AEAD 0x0002).

cryptography's public HPKE API is single-shot with no separate ``aad``; RFC 9180 section 8.1
says single-shot applications should carry authenticated context in ``info``, so
:func:`hpke_seal` passes the HPKE ``info`` ::

    u32le(len(info)) || info || u32le(len(aad)) || aad

Both are then authenticated through the key schedule: a different ``info`` or ``aad`` yields a
different AEAD key and the open fails.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from veil.errors import DecryptionError, FormatError

__all__ = [
    "DEFAULT_SEALING_SUITE",
    "SealingPrivateKey",
    "SealingPublicKey",
    "SealingSuite",
    "enc_size",
    "hpke_open",
    "hpke_seal",
    "private_key_size",
    "public_key_size",
]


class SealingSuite(StrEnum):
    """An HPKE cipher suite veil seals with; the value is its name in files and on the CLI."""

    MLKEM768_X25519 = "mlkem768-x25519"
    X25519 = "x25519"


DEFAULT_SEALING_SUITE: Final = SealingSuite.MLKEM768_X25519

_MLKEM768_SEED_SIZE: Final = 64  # FIPS 203 seed d || z
_MLKEM768_PUBLIC_SIZE: Final = 1184  # FIPS 203 ML-KEM-768 encapsulation key
_X25519_SIZE: Final = 32  # RFC 7748 private and public keys


@dataclass(frozen=True)
class _SuiteParams:
    kem: hpke.KEM
    private_size: int
    public_size: int


_PARAMS: Final[dict[SealingSuite, _SuiteParams]] = {
    # Private key: ML-KEM-768 seed || X25519 private; public: ML-KEM-768 key || X25519 public
    # (the component order of the MLKEM768-X25519 public key encoding).
    SealingSuite.MLKEM768_X25519: _SuiteParams(
        hpke.KEM.MLKEM768_X25519,
        _MLKEM768_SEED_SIZE + _X25519_SIZE,
        _MLKEM768_PUBLIC_SIZE + _X25519_SIZE,
    ),
    SealingSuite.X25519: _SuiteParams(hpke.KEM.X25519, _X25519_SIZE, _X25519_SIZE),
}

_PublicImpl = hpke.MLKEM768X25519PublicKey | x25519.X25519PublicKey
_PrivateImpl = hpke.MLKEM768X25519PrivateKey | x25519.X25519PrivateKey


def _suite(suite: SealingSuite) -> hpke.Suite:
    return hpke.Suite(_PARAMS[suite].kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def enc_size(suite: SealingSuite) -> int:
    """Length in bytes of the encapsulated key ``enc`` for ``suite``."""
    return _PARAMS[suite].kem.enc_length()


def public_key_size(suite: SealingSuite) -> int:
    """Length in bytes of a raw public key of ``suite``."""
    return _PARAMS[suite].public_size


def private_key_size(suite: SealingSuite) -> int:
    """Length in bytes of a raw private key of ``suite``."""
    return _PARAMS[suite].private_size


def _check_size(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise FormatError(f"{what} must be {size} bytes, got {len(data)}")


class SealingPublicKey:
    """A recipient's public HPKE key, tagged with its suite. Immutable."""

    __slots__ = ("_impl", "_raw", "suite")

    suite: SealingSuite
    _raw: bytes
    _impl: _PublicImpl

    def __init__(self, suite: SealingSuite, raw: bytes, impl: _PublicImpl) -> None:
        object.__setattr__(self, "suite", suite)
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_impl", impl)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SealingPublicKey is immutable")

    @classmethod
    def from_bytes(cls, data: bytes, *, suite: SealingSuite) -> SealingPublicKey:
        """Parse a raw public key of ``suite``; ``FormatError`` on a wrong size or bad key."""
        suite = SealingSuite(suite)
        what = f"{suite} sealing public key"
        _check_size(data, _PARAMS[suite].public_size, what)
        data = bytes(data)
        impl: _PublicImpl
        try:
            if suite is SealingSuite.X25519:
                impl = x25519.X25519PublicKey.from_public_bytes(data)
            else:
                impl = hpke.MLKEM768X25519PublicKey(
                    mlkem.MLKEM768PublicKey.from_public_bytes(data[:_MLKEM768_PUBLIC_SIZE]),
                    x25519.X25519PublicKey.from_public_bytes(data[_MLKEM768_PUBLIC_SIZE:]),
                )
        except ValueError as e:
            raise FormatError(f"{what} is not a valid key") from e
        return cls(suite, data, impl)

    def to_bytes(self) -> bytes:
        """The raw public key (its length depends on ``suite``)."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SealingPublicKey):
            return NotImplemented
        return self.suite == other.suite and self._raw == other._raw

    def __hash__(self) -> int:
        return hash((self.suite, self._raw))

    def __repr__(self) -> str:
        return f"SealingPublicKey(suite={self.suite.value!r}, bytes={len(self._raw)})"


class SealingPrivateKey:
    """A recipient's private HPKE key, tagged with its suite. Immutable; ``repr`` hides it."""

    __slots__ = ("_impl", "_public", "_raw", "suite")

    suite: SealingSuite
    _raw: bytes
    _impl: _PrivateImpl
    _public: SealingPublicKey

    def __init__(
        self, suite: SealingSuite, raw: bytes, impl: _PrivateImpl, public: SealingPublicKey
    ) -> None:
        object.__setattr__(self, "suite", suite)
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_impl", impl)
        object.__setattr__(self, "_public", public)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SealingPrivateKey is immutable")

    @classmethod
    def generate(cls, *, suite: SealingSuite = DEFAULT_SEALING_SUITE) -> SealingPrivateKey:
        """A fresh key pair from the operating system's CSPRNG."""
        suite = SealingSuite(suite)
        if suite is SealingSuite.X25519:
            raw = x25519.X25519PrivateKey.generate().private_bytes_raw()
        else:
            raw = (
                mlkem.MLKEM768PrivateKey.generate().private_bytes_raw()
                + x25519.X25519PrivateKey.generate().private_bytes_raw()
            )
        return cls.from_bytes(raw, suite=suite)

    @classmethod
    def from_bytes(cls, data: bytes, *, suite: SealingSuite) -> SealingPrivateKey:
        """Parse a raw private key of ``suite``; ``FormatError`` on a wrong size or bad key."""
        suite = SealingSuite(suite)
        what = f"{suite} sealing private key"
        _check_size(data, _PARAMS[suite].private_size, what)
        data = bytes(data)
        impl: _PrivateImpl
        try:
            if suite is SealingSuite.X25519:
                impl = x25519.X25519PrivateKey.from_private_bytes(data)
                public_raw = impl.public_key().public_bytes_raw()
            else:
                mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(data[:_MLKEM768_SEED_SIZE])
                x_key = x25519.X25519PrivateKey.from_private_bytes(data[_MLKEM768_SEED_SIZE:])
                impl = hpke.MLKEM768X25519PrivateKey(mlkem_key, x_key)
                public_raw = (
                    mlkem_key.public_key().public_bytes_raw()
                    + x_key.public_key().public_bytes_raw()
                )
        except ValueError as e:
            raise FormatError(f"{what} is not a valid key") from e
        return cls(suite, data, impl, SealingPublicKey.from_bytes(public_raw, suite=suite))

    def to_bytes(self) -> bytes:
        """The raw private key: the secret itself, handle with care."""
        return self._raw

    def public_key(self) -> SealingPublicKey:
        return self._public

    def __reduce__(self) -> tuple[object, ...]:
        return (_private_from_bytes, (self._raw, self.suite.value))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SealingPrivateKey):
            return NotImplemented
        return self.suite == other.suite and hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self._public)

    def __repr__(self) -> str:
        return f"SealingPrivateKey(suite={self.suite.value!r})"

    __str__ = __repr__


def _private_from_bytes(data: bytes, suite: str) -> SealingPrivateKey:
    return SealingPrivateKey.from_bytes(data, suite=SealingSuite(suite))


def _hpke_info(info: bytes, aad: bytes) -> bytes:
    return struct.pack("<I", len(info)) + info + struct.pack("<I", len(aad)) + aad


def hpke_seal(
    public_key: SealingPublicKey, plaintext: bytes, *, info: bytes, aad: bytes
) -> tuple[bytes, bytes]:
    """Seal ``plaintext`` to ``public_key``; return ``(enc, ciphertext)``.

    ``info`` and ``aad`` are both authenticated (see the module docstring for how).
    """
    sealed = _suite(public_key.suite).encrypt(
        plaintext, public_key._impl, info=_hpke_info(info, aad)
    )
    split = enc_size(public_key.suite)
    return sealed[:split], sealed[split:]


def hpke_open(
    private_key: SealingPrivateKey, enc: bytes, ciphertext: bytes, *, info: bytes, aad: bytes
) -> bytes:
    """Open what :func:`hpke_seal` produced; any failure raises the opaque ``DecryptionError``."""
    if len(enc) != enc_size(private_key.suite):
        raise DecryptionError
    try:
        return _suite(private_key.suite).decrypt(
            enc + ciphertext, private_key._impl, info=_hpke_info(info, aad)
        )
    except (InvalidTag, ValueError):
        # ValueError: a malformed encapsulated key (e.g. a low-order X25519 point).
        raise DecryptionError from None
