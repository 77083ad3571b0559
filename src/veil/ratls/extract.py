"""Read the attestation evidence out of an RA-TLS certificate (veil, Gramine, Cosmian) and check
that the quote binds the certificate's key, in the way each format defines."""

from __future__ import annotations

import enum
import hashlib
import hmac
import warnings
from dataclasses import dataclass
from typing import Final

import cbor2
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning

from veil.attestation.api import ParsedQuoteInfo, parse_quote_info
from veil.attestation.errors import QuoteFormatError
from veil.ratls._cbor import strict_loads
from veil.ratls.errors import NoEvidenceError, RatlsBindingError, RatlsFormatError
from veil.ratls.extension import MAX_EXTENSION_BYTES, RatlsClaims, VeilEvidence
from veil.ratls.oids import (
    COSMIAN_SGX_QUOTE_OID,
    COSMIAN_TDX_QUOTE_OID,
    GRAMINE_LEGACY_QUOTE_OID,
    TCG_DICE_TAGGED_EVIDENCE_OID,
    VEIL_EVIDENCE_OID,
)
from veil.ratls.report_data import ratls_report_data

__all__ = [
    "MAX_CERTIFICATE_BYTES",
    "TCG_DICE_TEE_QUOTE_TAG",
    "RatlsEvidence",
    "RatlsFormat",
    "load_certificate",
    "read_ratls_evidence",
]

#: Largest certificate input accepted, in bytes (PEM or DER). A DCAP quote is 5–16 KiB, so a
#: certificate carrying one or two is under 64 KiB; chains in one PEM file stay well below this.
MAX_CERTIFICATE_BYTES: Final = 256 * 1024
#: CBOR tag of TCG DICE tagged evidence holding a TEE quote (IANA "cbor-tags", used by Gramine).
TCG_DICE_TEE_QUOTE_TAG: Final = 60000
#: Hash algorithm ids of the IANA "Named Information Hash Algorithm" registry (Gramine claims).
_NAMED_INFO_HASHES: Final = {1: "sha256", 7: "sha384", 8: "sha512"}
_PUBKEY_HASH_CLAIM: Final = "pubkey-hash"
_PEM_MARKER: Final = b"-----BEGIN CERTIFICATE-----"


class RatlsFormat(enum.StrEnum):
    """Which RA-TLS convention a certificate follows."""

    VEIL = "veil"
    GRAMINE_DICE = "gramine-dice"
    GRAMINE_LEGACY = "gramine-legacy"
    COSMIAN = "cosmian"


@dataclass(frozen=True, kw_only=True)
class RatlsEvidence:
    """Evidence read from a certificate whose key the quote was checked to bind (quote not yet
    verified)."""

    format: RatlsFormat
    certificate: x509.Certificate
    quote: bytes
    quote_info: ParsedQuoteInfo
    #: DER SubjectPublicKeyInfo of the certificate's key.
    public_key_der: bytes
    #: veil format only: the sealing key, its suite, the nonce and the signed claims.
    veil: VeilEvidence | None = None

    @property
    def claims(self) -> RatlsClaims | None:
        return self.veil.claims if self.veil else None


def load_certificate(data: bytes) -> x509.Certificate:
    """The (first) certificate in PEM or DER ``data``; ``RatlsFormatError`` if it does not parse."""
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise RatlsFormatError(f"certificate input exceeds {MAX_CERTIFICATE_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            # cryptography only warns (for now) about RFC 5280 violations such as a
            # non-positive serial; an attestation certificate that breaks the profile is refused.
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            if _PEM_MARKER in data:
                certificate = x509.load_pem_x509_certificate(data)
            else:
                certificate = x509.load_der_x509_certificate(data)
            # Parse the extensions and key now: cryptography parses them lazily and a
            # truncated or malformed block must fail here, as a format error.
            certificate.extensions  # noqa: B018
            certificate.public_key()
    except (
        ValueError,
        TypeError,
        UnsupportedAlgorithm,
        CryptographyDeprecationWarning,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
        x509.InvalidVersion,
    ) as e:
        raise RatlsFormatError(f"not a parseable X.509 certificate: {e}") from e
    return certificate


def _extension_value(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        extension = certificate.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    value = extension.value
    if not isinstance(value, x509.UnrecognizedExtension):
        raise RatlsFormatError(f"extension {oid.dotted_string} has an unexpected type")
    if len(value.value) > MAX_EXTENSION_BYTES:
        raise RatlsFormatError(f"extension {oid.dotted_string} exceeds {MAX_EXTENSION_BYTES} bytes")
    return value.value


def _quote_info(quote: bytes, what: str) -> ParsedQuoteInfo:
    try:
        return parse_quote_info(quote)
    except QuoteFormatError as e:
        raise RatlsFormatError(f"{what}: {e}") from e


def _require_equal(actual: bytes, expected: bytes, message: str) -> None:
    if not hmac.compare_digest(actual, expected):
        raise RatlsBindingError(message)


def _read_dice(value: bytes, spki: bytes) -> tuple[bytes, ParsedQuoteInfo]:
    """Gramine ≥ 1.8: tag 60000 over [quote, claims]; report_data[0:32] = SHA-256(claims) and
    claims["pubkey-hash"] = CBOR [hash-alg-id, H(SPKI DER)] (Gramine ``ra_tls_verify_common.c``)."""
    item = strict_loads(value, "TCG DICE tagged evidence")
    if not isinstance(item, cbor2.CBORTag) or item.tag != TCG_DICE_TEE_QUOTE_TAG:
        raise RatlsFormatError(f"TCG DICE evidence is not CBOR tag {TCG_DICE_TEE_QUOTE_TAG}")
    body = item.value
    if not isinstance(body, list | tuple) or len(body) != 2:
        raise RatlsFormatError("TCG DICE evidence is not a [quote, claims] array")
    quote, claims_bytes = body
    if not isinstance(quote, bytes) or not isinstance(claims_bytes, bytes) or not claims_bytes:
        raise RatlsFormatError("TCG DICE evidence quote and claims must be byte strings")
    info = _quote_info(quote, "TCG DICE evidence quote")
    _require_equal(
        info.report_data[:32],
        hashlib.sha256(claims_bytes).digest(),
        "quote report_data[0:32] is not SHA-256 of the DICE claims",
    )
    claims = strict_loads(claims_bytes, "TCG DICE claims")
    if not isinstance(claims, dict) or not all(isinstance(k, str) for k in claims):
        raise RatlsFormatError("TCG DICE claims are not a map with text keys")
    entry_bytes = claims.get(_PUBKEY_HASH_CLAIM)
    if not isinstance(entry_bytes, bytes):
        raise RatlsFormatError("TCG DICE claims carry no pubkey-hash byte string")
    entry = strict_loads(entry_bytes, "pubkey-hash claim")
    if (
        not isinstance(entry, list | tuple)
        or len(entry) != 2
        or type(entry[0]) is not int
        or not isinstance(entry[1], bytes)
    ):
        raise RatlsFormatError("pubkey-hash claim is not [hash-alg-id, digest]")
    algorithm = _NAMED_INFO_HASHES.get(entry[0])
    if algorithm is None:
        raise RatlsFormatError(f"pubkey-hash uses unsupported hash algorithm id {entry[0]}")
    _require_equal(
        entry[1],
        hashlib.new(algorithm, spki).digest(),
        "pubkey-hash claim does not match the certificate's public key",
    )
    return quote, info


def _uncompressed_point(certificate: x509.Certificate) -> bytes:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise RatlsBindingError("Cosmian RA-TLS binds an EC key; the certificate key is not EC")
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def read_ratls_evidence(data: bytes | x509.Certificate) -> RatlsEvidence:
    """Find the evidence extension (veil, then TCG DICE, then Gramine legacy, then Cosmian) and
    check its key binding. Raises ``RatlsFormatError`` / ``NoEvidenceError`` /
    ``RatlsBindingError``; the quote itself is not verified here."""
    certificate = data if isinstance(data, x509.Certificate) else load_certificate(data)
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    value = _extension_value(certificate, VEIL_EVIDENCE_OID)
    if value is not None:
        evidence = VeilEvidence.from_cbor(value)
        info = _quote_info(evidence.quote, "veil evidence quote")
        if info.tee is not evidence.tee:
            raise RatlsBindingError(
                f"veil evidence says tee {evidence.tee.value}, the quote is {info.tee.value}"
            )
        _require_equal(
            info.report_data,
            ratls_report_data(spki, evidence.sealing_public_key, nonce=evidence.nonce),
            "quote report_data does not bind this certificate's key, sealing key and nonce",
        )
        return RatlsEvidence(
            format=RatlsFormat.VEIL,
            certificate=certificate,
            quote=evidence.quote,
            quote_info=info,
            public_key_der=spki,
            veil=evidence,
        )

    value = _extension_value(certificate, TCG_DICE_TAGGED_EVIDENCE_OID)
    if value is not None:
        quote, info = _read_dice(value, spki)
        return RatlsEvidence(
            format=RatlsFormat.GRAMINE_DICE,
            certificate=certificate,
            quote=quote,
            quote_info=info,
            public_key_der=spki,
        )

    value = _extension_value(certificate, GRAMINE_LEGACY_QUOTE_OID)
    if value is not None:
        info = _quote_info(value, "Gramine quote extension")
        _require_equal(
            info.report_data[:32],
            hashlib.sha256(spki).digest(),
            "quote report_data[0:32] is not SHA-256 of the certificate's SubjectPublicKeyInfo",
        )
        return RatlsEvidence(
            format=RatlsFormat.GRAMINE_LEGACY,
            certificate=certificate,
            quote=value,
            quote_info=info,
            public_key_der=spki,
        )

    for oid in (COSMIAN_SGX_QUOTE_OID, COSMIAN_TDX_QUOTE_OID):
        value = _extension_value(certificate, oid)
        if value is not None:
            info = _quote_info(value, "Cosmian quote extension")
            _require_equal(
                info.report_data[:32],
                hashlib.sha256(_uncompressed_point(certificate)).digest(),
                "quote report_data[0:32] is not SHA-256 of the certificate's EC public point",
            )
            return RatlsEvidence(
                format=RatlsFormat.COSMIAN,
                certificate=certificate,
                quote=value,
                quote_info=info,
                public_key_der=spki,
            )

    raise NoEvidenceError("the certificate carries no attestation (quote) extension")
