"""Intel DCAP quotes (SGX v3, TDX v4 and v5) parsed into immutable models; no verification."""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass, field

from veil._layout import Layout
from veil.attestation._reports import (
    ENCLAVE_REPORT_LAYOUT,
    TD_REPORT_10_LAYOUT,
    TD_REPORT_15_EX_LAYOUT,
    TD_REPORT_15_LAYOUT,
    EnclaveReport,
    TdReport,
    TdReportExtension,
)
from veil.attestation.errors import QuoteFormatError
from veil.attestation.result import Tee

__all__ = [
    "ATTESTATION_KEY_TYPE_ECDSA_P256",
    "BODY_TYPE_SGX",
    "BODY_TYPE_TD_REPORT_10",
    "BODY_TYPE_TD_REPORT_15",
    "BODY_TYPE_TD_REPORT_15_EX",
    "CERT_DATA_PCK_CERT_CHAIN",
    "CERT_DATA_QE_REPORT",
    "HEADER_LAYOUT",
    "MAX_QUOTE_BYTES",
    "MAX_QUOTE_TEXT_BYTES",
    "TEE_TYPE_SGX",
    "TEE_TYPE_TDX",
    "EnclaveReport",
    "QeCertificationData",
    "Quote",
    "QuoteHeader",
    "TdReport",
    "TdReportExtension",
    "measurements_of",
    "parse_quote",
    "parse_quote_text",
]

#: Largest quote accepted, in bytes. Real quotes are 4.6-5.3 KB (8 KB with padding); the PCK
#: chain dominates. 64 KiB leaves room for longer chains and auth data while bounding work.
MAX_QUOTE_BYTES = 64 * 1024
#: Largest hex text accepted by :func:`parse_quote_text`, in bytes: two digits per byte plus
#: generous room for line breaks and indentation.
MAX_QUOTE_TEXT_BYTES = 4 * MAX_QUOTE_BYTES

TEE_TYPE_SGX = 0x00000000
TEE_TYPE_TDX = 0x00000081
#: ECDSA-256-with-P-256; 3 (ECDSA-384-with-P-384) is defined by Intel but never produced by the
#: production QEs, so veil refuses it rather than carry untested code.
ATTESTATION_KEY_TYPE_ECDSA_P256 = 2

# Quote v5 body types (TDX DCAP Quote Generation Library spec; type 4 per dcap-qvl 0.7.0).
BODY_TYPE_SGX = 1
BODY_TYPE_TD_REPORT_10 = 2
BODY_TYPE_TD_REPORT_15 = 3
BODY_TYPE_TD_REPORT_15_EX = 4
_BODY_LAYOUTS: dict[int, Layout] = {
    BODY_TYPE_SGX: ENCLAVE_REPORT_LAYOUT,
    BODY_TYPE_TD_REPORT_10: TD_REPORT_10_LAYOUT,
    BODY_TYPE_TD_REPORT_15: TD_REPORT_15_LAYOUT,
    BODY_TYPE_TD_REPORT_15_EX: TD_REPORT_15_EX_LAYOUT,
}
_TEE_OF_BODY_TYPE = {
    BODY_TYPE_SGX: TEE_TYPE_SGX,
    BODY_TYPE_TD_REPORT_10: TEE_TYPE_TDX,
    BODY_TYPE_TD_REPORT_15: TEE_TYPE_TDX,
    BODY_TYPE_TD_REPORT_15_EX: TEE_TYPE_TDX,
}
# Which TEE types each quote version may carry (v3 predates TDX; v4 is defined for both).
_TEE_TYPES_OF_VERSION = {
    3: (TEE_TYPE_SGX,),
    4: (TEE_TYPE_SGX, TEE_TYPE_TDX),
    5: (TEE_TYPE_SGX, TEE_TYPE_TDX),
}

# Certification data types (Intel SGX ECDSA Quote Library API, "Certification Data Type").
CERT_DATA_PCK_CERT_CHAIN = 5
CERT_DATA_QE_REPORT = 6

# Intel SGX ECDSA Quote Library API §A.4 / TDX DCAP Quote Generation Library §A.3, "Quote Header".
HEADER_LAYOUT = Layout.of(
    "QuoteHeader",
    48,
    (
        ("version", 0, "<H"),
        ("attestation_key_type", 2, "<H"),
        ("tee_type", 4, "<I"),
        ("qe_svn", 8, "<H"),
        ("pce_svn", 10, "<H"),
        ("qe_vendor_id", 12, "<16s"),
        ("user_data", 28, "<20s"),
    ),
)
_ECDSA_SIGNATURE_BYTES = 64
_ECDSA_PUBLIC_KEY_BYTES = 64


@dataclass(frozen=True, kw_only=True)
class QuoteHeader:
    """The 48-byte quote header; parsing checks version, TEE type and key type are supported."""

    version: int
    attestation_key_type: int
    tee_type: int
    qe_svn: int
    pce_svn: int
    qe_vendor_id: bytes
    user_data: bytes
    raw: bytes = field(repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> QuoteHeader:
        if len(data) != HEADER_LAYOUT.size:
            raise QuoteFormatError(f"quote header must be 48 bytes, got {len(data)}")
        v = HEADER_LAYOUT.unpack(data)
        header = cls(
            version=v.int_("version"),
            attestation_key_type=v.int_("attestation_key_type"),
            tee_type=v.int_("tee_type"),
            qe_svn=v.int_("qe_svn"),
            pce_svn=v.int_("pce_svn"),
            qe_vendor_id=v.bytes_("qe_vendor_id"),
            user_data=v.bytes_("user_data"),
            raw=bytes(data),
        )
        allowed_tees = _TEE_TYPES_OF_VERSION.get(header.version)
        if allowed_tees is None:
            raise QuoteFormatError(f"unsupported quote version {header.version} (expected 3-5)")
        if header.tee_type not in allowed_tees:
            raise QuoteFormatError(
                f"TEE type {header.tee_type:#x} is not valid in a version {header.version} quote"
            )
        if header.attestation_key_type != ATTESTATION_KEY_TYPE_ECDSA_P256:
            raise QuoteFormatError(
                f"unsupported attestation key type {header.attestation_key_type} "
                "(only 2, ECDSA-256-with-P-256)"
            )
        return header


@dataclass(frozen=True, kw_only=True)
class QeCertificationData:
    """What certifies the attestation key: the QE's report, signed by the PCK key, and the PCK
    certificate chain (PEM, exactly as in the quote; it often ends with a NUL byte)."""

    qe_report: EnclaveReport
    qe_report_signature: bytes
    qe_auth_data: bytes
    pck_cert_chain_pem: bytes = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class Quote:
    """A parsed DCAP quote. Nothing in it is verified yet: see ``veil.attestation.verifier``."""

    header: QuoteHeader
    body: EnclaveReport | TdReport
    #: Quote v5 body type; for v3/v4, 1 (SGX) or 2 (TDX, TD report 1.0) by the same numbering.
    body_type: int
    #: Exactly the bytes the attestation key signed: header ‖ (v5: type ‖ size ‖) body.
    signed_data: bytes = field(repr=False)
    #: ECDSA P-256 signature over ``signed_data``, r ‖ s (32 bytes each, big-endian).
    signature: bytes
    #: The QE's attestation public key, x ‖ y (32 bytes each, big-endian).
    attestation_key: bytes
    certification: QeCertificationData
    #: The quote without any trailing padding.
    raw: bytes = field(repr=False)

    @property
    def version(self) -> int:
        return self.header.version

    @property
    def tee(self) -> Tee:
        return Tee.TDX if self.header.tee_type == TEE_TYPE_TDX else Tee.SGX

    @property
    def report_data(self) -> bytes:
        return self.body.report_data

    @property
    def is_debug(self) -> bool:
        return self.body.is_debug


class _Reader:
    """Bounds-checked sequential reads; every shortfall is a QuoteFormatError naming the field."""

    def __init__(self, data: bytes, *, base: int = 0) -> None:
        self._data = data
        self._base = base
        self.position = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self.position

    def take(self, size: int, what: str) -> bytes:
        if size > self.remaining:
            raise QuoteFormatError(
                f"quote truncated: {what} needs {size} bytes at offset "
                f"{self._base + self.position}, {self.remaining} left"
            )
        chunk = self._data[self.position : self.position + size]
        self.position += size
        return chunk

    def u16(self, what: str) -> int:
        (value,) = struct.unpack("<H", self.take(2, what))
        return int(value)

    def u32(self, what: str) -> int:
        (value,) = struct.unpack("<I", self.take(4, what))
        return int(value)

    def expect_end(self, what: str) -> None:
        if self.remaining:
            raise QuoteFormatError(f"{what} has {self.remaining} unexpected bytes at its end")


def parse_quote(data: bytes | bytearray | memoryview) -> Quote:
    """Parse an SGX v3 or TDX v4/v5 ECDSA quote; raises only :class:`QuoteFormatError`.

    Trailing bytes after the signature data are accepted only if they are all zero (real TDX
    quotes carry zero padding): the signature does not cover them, so they are dropped.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_quote expects bytes")
    data = bytes(data)
    if len(data) > MAX_QUOTE_BYTES:
        raise QuoteFormatError(f"quote is {len(data)} bytes, more than {MAX_QUOTE_BYTES}")
    reader = _Reader(data)
    header = QuoteHeader.from_bytes(reader.take(HEADER_LAYOUT.size, "header"))

    if header.version == 5:
        body_type = reader.u16("body type")
        body_size = reader.u32("body size")
        layout = _BODY_LAYOUTS.get(body_type)
        if layout is None:
            raise QuoteFormatError(f"unsupported quote body type {body_type}")
        if _TEE_OF_BODY_TYPE[body_type] != header.tee_type:
            raise QuoteFormatError(
                f"body type {body_type} does not match TEE type {header.tee_type:#x}"
            )
        if body_size != layout.size:
            raise QuoteFormatError(
                f"body type {body_type} must be {layout.size} bytes, header says {body_size}"
            )
    elif header.tee_type == TEE_TYPE_TDX:
        body_type, layout = BODY_TYPE_TD_REPORT_10, TD_REPORT_10_LAYOUT
    else:
        body_type, layout = BODY_TYPE_SGX, ENCLAVE_REPORT_LAYOUT
    body_bytes = reader.take(layout.size, "report body")
    body: EnclaveReport | TdReport
    if body_type == BODY_TYPE_SGX:
        body = EnclaveReport.from_bytes(body_bytes)
    else:
        body = TdReport.from_bytes(body_bytes)
    signed_end = reader.position

    signature_data_size = reader.u32("signature data length")
    signature_data = _Reader(
        reader.take(signature_data_size, "signature data"), base=reader.position
    )
    end = reader.position
    if any(data[end:]):
        raise QuoteFormatError(
            f"quote has {len(data) - end} trailing bytes after the signature data that are not "
            "zero padding"
        )

    signature = signature_data.take(_ECDSA_SIGNATURE_BYTES, "quote signature")
    attestation_key = signature_data.take(_ECDSA_PUBLIC_KEY_BYTES, "attestation key")
    if header.version == 3:
        certification = _read_qe_certification(signature_data)
    else:
        cert_type = signature_data.u16("certification data type")
        if cert_type != CERT_DATA_QE_REPORT:
            raise QuoteFormatError(
                f"unsupported certification data type {cert_type} in a version "
                f"{header.version} quote (expected {CERT_DATA_QE_REPORT}, QE report)"
            )
        size = signature_data.u32("certification data size")
        nested = _Reader(
            signature_data.take(size, "QE report certification data"),
            base=signature_data.position,
        )
        certification = _read_qe_certification(nested)
        nested.expect_end("QE report certification data")
    signature_data.expect_end("signature data")

    return Quote(
        header=header,
        body=body,
        body_type=body_type,
        signed_data=data[:signed_end],
        signature=signature,
        attestation_key=attestation_key,
        certification=certification,
        raw=data[:end],
    )


def _read_qe_certification(reader: _Reader) -> QeCertificationData:
    """QE report ‖ its signature ‖ QE auth data ‖ certification data (type 5, PCK chain)."""
    qe_report = EnclaveReport.from_bytes(reader.take(ENCLAVE_REPORT_LAYOUT.size, "QE report"))
    qe_report_signature = reader.take(_ECDSA_SIGNATURE_BYTES, "QE report signature")
    auth_size = reader.u16("QE auth data length")
    qe_auth_data = reader.take(auth_size, "QE auth data")
    cert_type = reader.u16("certification data type")
    if cert_type != CERT_DATA_PCK_CERT_CHAIN:
        raise QuoteFormatError(
            f"unsupported certification data type {cert_type} "
            f"(expected {CERT_DATA_PCK_CERT_CHAIN}, PCK certificate chain)"
        )
    chain_size = reader.u32("certification data size")
    chain = reader.take(chain_size, "PCK certificate chain")
    if not chain.strip(b"\0 \t\r\n"):
        raise QuoteFormatError("the PCK certificate chain is empty")
    return QeCertificationData(
        qe_report=qe_report,
        qe_report_signature=qe_report_signature,
        qe_auth_data=qe_auth_data,
        pck_cert_chain_pem=chain,
    )


_HEX_WHITESPACE = re.compile(rb"\s+")
_HEX_DIGITS = re.compile(rb"[0-9A-Fa-f]+")


def parse_quote_text(data: bytes | str) -> bytes:
    """Decode a quote written as hex text: optional ``0x`` prefix, whitespace anywhere ignored.

    Returns the quote bytes (parse them with :func:`parse_quote`); raises
    :class:`QuoteFormatError` on anything that is not hex or is too large.
    """
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError as e:
            raise QuoteFormatError("quote text contains non-ASCII characters") from e
    if len(data) > MAX_QUOTE_TEXT_BYTES:
        raise QuoteFormatError(f"quote text is more than {MAX_QUOTE_TEXT_BYTES} bytes")
    text = _HEX_WHITESPACE.sub(b"", bytes(data))
    if text[:2] in (b"0x", b"0X"):
        text = text[2:]
    if not text:
        raise QuoteFormatError("quote text is empty")
    if not _HEX_DIGITS.fullmatch(text):
        raise QuoteFormatError("quote text is not hexadecimal")
    if len(text) % 2:
        raise QuoteFormatError("quote hex text has an odd number of digits")
    return binascii.unhexlify(text)


def measurements_of(quote: Quote) -> dict[str, str]:
    """The identity fields of a quote's body by their Intel names in lower case.

    Byte fields are lower-case hex of the bytes exactly as they appear in the quote;
    ``misc_select`` is the hex of its 4 bytes as in the quote (little-endian);
    ``isv_prod_id``, ``isv_svn`` and ``config_svn`` are decimal, as Intel's TCB info and
    Gramine manifests write them.
    """
    body = quote.body
    if isinstance(body, EnclaveReport):
        return {
            "mr_enclave": body.mr_enclave.hex(),
            "mr_signer": body.mr_signer.hex(),
            "isv_prod_id": str(body.isv_prod_id),
            "isv_svn": str(body.isv_svn),
            "report_data": body.report_data.hex(),
            "attributes": body.attributes.hex(),
            "misc_select": struct.pack("<I", body.misc_select).hex(),
            "config_id": body.config_id.hex(),
            "config_svn": str(body.config_svn),
            "cpu_svn": body.cpu_svn.hex(),
        }
    result = {
        "mr_td": body.mr_td.hex(),
        **{f"rtmr{index}": value.hex() for index, value in enumerate(body.rtmrs)},
        "mr_config_id": body.mr_config_id.hex(),
        "mr_owner": body.mr_owner.hex(),
        "mr_owner_config": body.mr_owner_config.hex(),
        "td_attributes": body.td_attributes.hex(),
        "xfam": body.xfam.hex(),
        "mr_seam": body.mr_seam.hex(),
        "mr_signer_seam": body.mr_signer_seam.hex(),
        "tee_tcb_svn": body.tee_tcb_svn.hex(),
        "report_data": body.report_data.hex(),
    }
    if body.mr_service_td is not None:
        result["mr_service_td"] = body.mr_service_td.hex()
    if body.tee_tcb_svn2 is not None:
        result["tee_tcb_svn2"] = body.tee_tcb_svn2.hex()
    return result
