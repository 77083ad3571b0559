"""Certificates and CRLs decoded once per verification, keeping the exact DER their issuers signed.

``cryptography`` re-encodes ``tbs_certificate_bytes`` / ``tbs_certlist_bytes`` on every access
(75 µs for a 2.6 KB PCK CRL) and hashes certificates by walking their parsed structure, so
chain checks cut the signed parts and names out of the DER once, here, and key lookups by bytes
(DER, or the PEM base64 a certificate was read from). Names are compared as DER, as webpki does.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = ["ParsedCertificate", "crl_tbs_and_issuer", "der_children", "read_pem_certificates"]

_TAG_SEQUENCE = 0x30
_TAG_INTEGER = 0x02
_TAG_VERSION = 0xA0  # [0] EXPLICIT Version of a v2/v3 TBSCertificate

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
_BASE64_AND_NEWLINE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n"


def _tlv(der: bytes, position: int) -> tuple[int, int]:
    """(content start, end) of the definite-length TLV at ``position``; ValueError on overrun."""
    if position + 2 > len(der):
        raise ValueError("truncated DER")
    first = der[position + 1]
    if first < 0x80:
        start, length = position + 2, first
    else:
        start = position + 2 + (first & 0x7F)
        length = int.from_bytes(der[position + 2 : start], "big")
    end = start + length
    if end > len(der):
        raise ValueError("truncated DER")
    return start, end


def der_children(der: bytes, count: int) -> list[bytes]:
    """The first ``count`` TLVs (raw, tag included) inside the DER SEQUENCE ``der``.

    ``cryptography`` already parsed these bytes strictly, so a failure here means a bug or a
    structure it tolerates and this reader does not: ValueError, wrapped by callers.
    """
    if not der or der[0] != _TAG_SEQUENCE:
        raise ValueError("not a DER SEQUENCE")
    position, end = _tlv(der, 0)
    items: list[bytes] = []
    while len(items) < count:
        if position >= end:
            raise ValueError("truncated DER")
        item_end = _tlv(der, position)[1]
        items.append(der[position:item_end])
        position = item_end
    return items


@dataclass(frozen=True, eq=False, slots=True)
class ParsedCertificate:
    """An X.509 certificate, its DER, the exact TBSCertificate bytes its issuer signed, and its
    names as DER (None for a v1 certificate, refused where names are read).

    A chain presenting a certificate already read (same PEM base64) gets this object back, so
    one verification decodes and parses each certificate once however many chains carry it.
    """

    certificate: x509.Certificate
    der: bytes = field(repr=False)
    tbs: bytes = field(repr=False)
    #: (issuer, subject, subjectPublicKeyInfo), each as DER.
    names: tuple[bytes, bytes, bytes] | None = field(repr=False)
    #: The canonical PEM base64 (line breaks removed) it was read from, if any: a chain that
    #: presents the same text again gets this object back.
    base64: bytes | None = field(repr=False)

    @classmethod
    def from_der(cls, base64: bytes | None, der: bytes) -> ParsedCertificate:
        """Parse DER (ValueError if ``cryptography`` refuses it) read from ``base64``."""
        return cls._cut(x509.load_der_x509_certificate(der), der, base64)

    @classmethod
    def of(cls, certificate: x509.Certificate) -> ParsedCertificate:
        return cls._cut(certificate, certificate.public_bytes(Encoding.DER), None)

    @classmethod
    def _cut(
        cls, certificate: x509.Certificate, der: bytes, base64: bytes | None
    ) -> ParsedCertificate:
        tbs = der_children(der, 1)[0]
        names = None
        # TBSCertificate: [0] version, serialNumber, signature, issuer, validity, subject, spki, …
        if der_children(tbs, 1)[0][0] == _TAG_VERSION:
            fields = der_children(tbs, 7)
            names = (fields[3], fields[5], fields[6])
        return cls(certificate, der, tbs, names, base64)

    def _names(self) -> tuple[bytes, bytes, bytes]:
        if self.names is None:
            raise ValueError("not an X.509 v3 certificate")
        return self.names

    @property
    def issuer(self) -> bytes:
        """The issuer Name as DER (ValueError for a v1 certificate)."""
        return self._names()[0]

    @property
    def subject(self) -> bytes:
        return self._names()[1]

    @property
    def subject_public_key_info(self) -> bytes:
        return self._names()[2]


def crl_tbs_and_issuer(der: bytes) -> tuple[bytes, bytes]:
    """The exact TBSCertList bytes of a DER CRL and its issuer Name as DER."""
    tbs = der_children(der, 1)[0]
    # TBSCertList: version (optional INTEGER), signature, issuer, thisUpdate, …
    fields = der_children(tbs, 3)
    return tbs, fields[2] if fields[0][0] == _TAG_INTEGER else fields[1]


def _canonical_pem_blocks(pem: bytes) -> list[bytes] | None:
    """The base64 text (line breaks removed) of each block when ``pem`` is only ``CERTIFICATE``
    blocks of base64 with ``\\n`` line breaks and no blank line, separated by whitespace; None
    for any other shape."""
    texts: list[bytes] = []
    position = 0
    while (start := pem.find(_BEGIN, position)) >= 0:
        end = pem.find(_END, start)
        body = pem[start + len(_BEGIN) : end]
        if (
            end < 0
            or pem[position:start].strip(b" \t\r\n")
            or body.translate(None, _BASE64_AND_NEWLINE)
            or b"\n\n" in body  # the lenient reader would take what precedes as headers
        ):
            return None
        texts.append(body.replace(b"\n", b""))
        position = end + len(_END)
    if not texts or pem[position:].strip(b" \t\r\n"):
        return None
    return texts


def _decode_canonical(text: bytes) -> bytes | None:
    """DER of canonical base64 (padded, no stray bits, as ``cryptography``'s PEM reader wants)."""
    try:
        der = binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        return None
    return der if binascii.b2a_base64(der, newline=False) == text else None


def read_pem_certificates(
    pem: bytes, known: Mapping[bytes, ParsedCertificate] | None = None
) -> list[ParsedCertificate]:
    """The certificates of a PEM chain in order; ValueError when ``cryptography`` refuses it.

    The usual shape (``CERTIFICATE`` blocks of canonical base64, whitespace between) is decoded
    here, and a block whose base64 is a key of ``known`` is that certificate, neither decoded
    nor parsed again. Anything else goes to ``cryptography``'s PEM reader, so exactly the same
    chains are accepted as with it alone.
    """
    texts = _canonical_pem_blocks(pem)
    if texts is not None:
        blocks: list[ParsedCertificate | tuple[bytes, bytes]] = []
        for text in texts:
            parsed = known.get(text) if known is not None else None
            if parsed is not None:
                blocks.append(parsed)
            elif (der := _decode_canonical(text)) is not None:
                blocks.append((text, der))
            else:
                break
        else:  # every block decoded: parse the new ones, in order
            return [
                block
                if isinstance(block, ParsedCertificate)
                else ParsedCertificate.from_der(*block)
                for block in blocks
            ]
    return [ParsedCertificate.of(c) for c in x509.load_pem_x509_certificates(pem)]
