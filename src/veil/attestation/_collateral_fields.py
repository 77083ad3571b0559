"""Decoding and validating the individual pieces of DCAP collateral (CRLs, chains, signatures)."""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse

from veil.attestation._signed_json import SignedJsonError, loads_strict
from veil.attestation.errors import CollateralFormatError

__all__ = [
    "MAX_CRL_BYTES",
    "MAX_ISSUER_CHAIN_BYTES",
    "MAX_ISSUER_CHAIN_CERTIFICATES",
    "MAX_SIGNED_JSON_BYTES",
    "SIGNATURE_BYTES",
    "check_crl",
    "check_issuer_chain",
    "check_signature",
    "check_signed_json",
    "decode_base64",
    "decode_hex",
    "read_crl",
    "read_issuer_chain",
]

#: Largest CRL accepted, in bytes. Intel's PCK CRLs are a few KB (one entry ≈ 40 B); 2 MiB
#: bounds memory while leaving room for ~50 000 revoked entries.
MAX_CRL_BYTES = 2 * 1024 * 1024
#: Largest signed TCB info / QE identity, in bytes (real ones are 1-9 KB).
MAX_SIGNED_JSON_BYTES = 1024 * 1024
#: Largest issuer chain, in bytes of PEM (Intel's are two certificates, about 1.9 KB).
MAX_ISSUER_CHAIN_BYTES = 64 * 1024
#: Most certificates an issuer chain may hold (Intel's hold 2: signer/CA and root).
MAX_ISSUER_CHAIN_CERTIFICATES = 8
#: ECDSA P-256 signature r ‖ s.
SIGNATURE_BYTES = 64

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*?)-----END \1-----", re.DOTALL
)
_BETWEEN_BLOCKS = re.compile(rb"[\s\0]*")
_WHITESPACE = re.compile(rb"\s+")


def _as_bytes(value: bytes | str, field: str) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("ascii")
    except UnicodeEncodeError as e:
        raise CollateralFormatError(f"{field}: contains non-ASCII characters") from e


def decode_hex(value: bytes | str, field: str) -> bytes:
    """Hex digits, whitespace ignored, either case."""
    text = _WHITESPACE.sub(b"", _as_bytes(value, field))
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError) as e:
        raise CollateralFormatError(f"{field}: not valid hex") from e


def decode_base64(value: bytes | str, field: str) -> bytes:
    """Standard base64 with padding (RFC 4648 §4), no whitespace."""
    try:
        return base64.b64decode(_as_bytes(value, field), validate=True)
    except (binascii.Error, ValueError) as e:
        raise CollateralFormatError(f"{field}: not valid base64") from e


def _der_sequence_length(der: bytes) -> int | None:
    """Total length of the DER SEQUENCE at the start of ``der``, or None if it is not one."""
    if len(der) < 2 or der[0] != 0x30:
        return None
    first = der[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    # 0x80 is BER's indefinite length (not DER); more than 4 length bytes is absurd here.
    if count == 0 or count > 4 or len(der) < 2 + count:
        return None
    return 2 + count + int.from_bytes(der[2 : 2 + count], "big")


def _check_der(der: bytes, field: str) -> None:
    if _der_sequence_length(der) != len(der):
        raise CollateralFormatError(f"{field}: not a single DER SEQUENCE")


def check_crl(der: bytes, field: str) -> None:
    if not der:
        raise CollateralFormatError(f"{field}: empty")
    if len(der) > MAX_CRL_BYTES:
        raise CollateralFormatError(f"{field}: more than {MAX_CRL_BYTES} bytes")
    _check_der(der, field)


def read_crl(value: bytes | str, field: str) -> bytes:
    """A CRL as DER, PEM (``X509 CRL``) or hex of DER (as some PCCS serve it); returns DER."""
    raw = _as_bytes(value, field)
    if len(raw) > 2 * MAX_CRL_BYTES + 4096:
        raise CollateralFormatError(f"{field}: more than {MAX_CRL_BYTES} bytes")
    if raw[:1] == b"\x30":
        der = raw
    elif raw.lstrip().startswith(b"-----BEGIN X509 CRL-----"):
        match = _PEM_BLOCK.search(raw)
        if match is None or match.group(1) != b"X509 CRL" or raw.strip() != match.group(0):
            raise CollateralFormatError(f"{field}: malformed PEM CRL")
        der = decode_base64(_WHITESPACE.sub(b"", match.group(2)), field)
    else:
        der = decode_hex(raw, field)
    check_crl(der, field)
    return der


def check_issuer_chain(pem: bytes, field: str) -> None:
    """One or more PEM ``CERTIFICATE`` blocks, each a DER SEQUENCE; only whitespace between."""
    if len(pem) > MAX_ISSUER_CHAIN_BYTES:
        raise CollateralFormatError(f"{field}: more than {MAX_ISSUER_CHAIN_BYTES} bytes")
    position = 0
    count = 0
    for match in _PEM_BLOCK.finditer(pem):
        if not _BETWEEN_BLOCKS.fullmatch(pem, position, match.start()):
            raise CollateralFormatError(f"{field}: unexpected text between PEM blocks")
        if match.group(1) != b"CERTIFICATE":
            raise CollateralFormatError(
                f"{field}: a {match.group(1).decode()} is not a certificate"
            )
        _check_der(decode_base64(_WHITESPACE.sub(b"", match.group(2)), field), field)
        position = match.end()
        count += 1
    if not _BETWEEN_BLOCKS.fullmatch(pem, position):
        raise CollateralFormatError(f"{field}: unexpected text after the last PEM block")
    if count == 0:
        raise CollateralFormatError(f"{field}: no PEM certificate")
    if count > MAX_ISSUER_CHAIN_CERTIFICATES:
        raise CollateralFormatError(
            f"{field}: {count} certificates, more than {MAX_ISSUER_CHAIN_CERTIFICATES}"
        )


def read_issuer_chain(value: bytes | str, field: str) -> bytes:
    """A PEM chain, URL-encoded (as in PCS response headers) or not; returns plain PEM."""
    raw = _as_bytes(value, field)
    if len(raw) > 3 * MAX_ISSUER_CHAIN_BYTES:
        raise CollateralFormatError(f"{field}: more than {MAX_ISSUER_CHAIN_BYTES} bytes")
    # PEM never contains "%", so a "%" means the PCS header's URL encoding.
    if b"%" in raw:
        raw = urllib.parse.unquote_to_bytes(raw)
    check_issuer_chain(raw, field)
    return raw


def check_signature(signature: bytes, field: str) -> None:
    if len(signature) != SIGNATURE_BYTES:
        raise CollateralFormatError(
            f"{field}: must be {SIGNATURE_BYTES} bytes (ECDSA P-256 r ‖ s), got {len(signature)}"
        )


def check_signed_json(data: bytes, field: str) -> None:
    """The exact signed bytes of a TCB info / QE identity: one strict JSON object."""
    if len(data) > MAX_SIGNED_JSON_BYTES:
        raise CollateralFormatError(f"{field}: more than {MAX_SIGNED_JSON_BYTES} bytes")
    try:
        value = loads_strict(data)
    except SignedJsonError as e:
        raise CollateralFormatError(f"{field}: {e}") from e
    if not isinstance(value, dict):
        raise CollateralFormatError(f"{field}: not a JSON object")
