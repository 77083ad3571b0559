"""Generator of a synthetic Intel-shaped SGX PKI, collateral and re-signed quotes, for tests.

Real collateral cannot show a revoked PCK certificate (none of the real ones is revoked) and a
forged chain must be built to prove the root pin holds, so this module builds, at test time:
a root CA, a PCK Platform CA, a TCB signing certificate and a PCK leaf (with Intel's SGX
extension) that copy Intel's names exactly; both CRLs; a signed TCB info and QE identity; and
a quote re-signed end to end (QE report by the PCK key, quote by a fresh attestation key)
from a real quote's header, body, QE report and QE auth data.

Such a root is trusted only through the test-only ``trust_anchor_for_testing`` parameter.

It also re-encodes certificates as ``cryptography``'s builder never would (an invalid version,
a duplicated extension) and writes PEM chains in any line width, line ending and separator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from veil.attestation.collateral import Collateral
from veil.attestation.quote import Quote

__all__ = [
    "PkiOptions",
    "SyntheticPki",
    "encode_sgx_extension",
    "intel_name",
    "pem_of",
    "raw_signature",
    "with_duplicated_extension",
    "with_version",
]

_SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"


def intel_name(common_name: str) -> x509.Name:
    """The exact distinguished name Intel uses for its SGX PKI certificates."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Santa Clara"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Intel Corporation"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


# ----- minimal DER encoder for the SGX extension ----------------------------------------------


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        length = bytes([size])
    elif size < 0x100:
        length = bytes([0x81, size])
    else:
        length = bytes([0x82]) + size.to_bytes(2, "big")
    return bytes([tag]) + length + body


def _oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _integer(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return _tlv(0x02, body)


def _member(oid: str, value: bytes) -> bytes:
    return _tlv(0x30, _oid(oid) + value)


def encode_sgx_extension(
    *,
    fmspc: bytes,
    pce_id: bytes = b"\x00\x00",
    components: bytes = bytes(16),
    pce_svn: int = 0,
    ppid: bytes = bytes(16),
    sgx_type: int = 1,
) -> bytes:
    """DER of Intel's SGX extension (PCK Certificate and CRL Profile §1.3.5)."""
    tcb = b"".join(
        _member(f"{_SGX_EXTENSION_OID}.2.{index + 1}", _integer(svn))
        for index, svn in enumerate(components)
    )
    tcb += _member(f"{_SGX_EXTENSION_OID}.2.17", _integer(pce_svn))
    tcb += _member(f"{_SGX_EXTENSION_OID}.2.18", _tlv(0x04, components))
    return _tlv(
        0x30,
        _member(f"{_SGX_EXTENSION_OID}.1", _tlv(0x04, ppid))
        + _member(f"{_SGX_EXTENSION_OID}.2", _tlv(0x30, tcb))
        + _member(f"{_SGX_EXTENSION_OID}.3", _tlv(0x04, pce_id))
        + _member(f"{_SGX_EXTENSION_OID}.4", _tlv(0x04, fmspc))
        + _member(f"{_SGX_EXTENSION_OID}.5", _tlv(0x0A, bytes([sgx_type]))),
    )


# ----- the PKI --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PkiOptions:
    """What to break. Defaults build a PKI under which the re-signed quote verifies."""

    revoke_pck_leaf: bool = False
    revoke_pck_ca: bool = False
    #: Sign the PCK CRL with this key instead of the PCK CA's.
    pck_crl_signer: ec.EllipticCurvePrivateKey | None = None
    #: Sign the root CA CRL with this key instead of the root's.
    root_crl_signer: ec.EllipticCurvePrivateKey | None = None
    #: nextUpdate of both CRLs relative to ``now`` (negative = already expired).
    crl_lifetime: timedelta = timedelta(days=30)
    #: ``id`` of the TCB info ("TDX" builds a v3 TDX TCB info) and of the QE identity.
    tcb_info_id: str = "SGX"
    qe_identity_id: str = "QE"
    #: Status of the one TCB level.
    tcb_status: str = "UpToDate"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256 SHA-256 signature as Intel encodes it: r ‖ s, 32 bytes each."""
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


@dataclass(frozen=True)
class SyntheticPki:
    """Keys and certificates of one synthetic PKI (Intel's names, test keys)."""

    now: datetime
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    pck_ca_key: ec.EllipticCurvePrivateKey
    pck_ca: x509.Certificate
    tcb_signer_key: ec.EllipticCurvePrivateKey
    tcb_signer: x509.Certificate
    pck_key: ec.EllipticCurvePrivateKey
    pck: x509.Certificate
    fmspc: bytes
    pce_svn: int
    components: bytes

    @property
    def root_public_key(self) -> bytes:
        """The SEC1 point to pass as ``trust_anchor_for_testing``."""
        return _point(self.root_key.public_key())

    @classmethod
    def generate(
        cls,
        *,
        now: datetime,
        fmspc: bytes = bytes.fromhex("00A067110000"),
        components: bytes = bytes([11, 11, 2, 2, 255, 1] + [0] * 10),
        pce_svn: int = 13,
    ) -> SyntheticPki:
        root_key, pck_ca_key, tcb_key, pck_key = _key(), _key(), _key(), _key()
        start, end = now - timedelta(days=365), now + timedelta(days=3650)

        def build(
            subject: str,
            issuer: str,
            key: ec.EllipticCurvePrivateKey,
            signer: ec.EllipticCurvePrivateKey,
            *,
            ca: bool,
            path_length: int | None = None,
            serial: int,
            extra: bytes | None = None,
        ) -> x509.Certificate:
            builder = (
                x509.CertificateBuilder()
                .subject_name(intel_name(subject))
                .issuer_name(intel_name(issuer))
                .public_key(key.public_key())
                .serial_number(serial)
                .not_valid_before(start)
                .not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=not ca,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=ca,
                        crl_sign=ca,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    True,
                )
            )
            if extra is not None:
                builder = builder.add_extension(
                    x509.UnrecognizedExtension(x509.ObjectIdentifier(_SGX_EXTENSION_OID), extra),
                    False,
                )
            return builder.sign(signer, hashes.SHA256())

        root = build(
            "Intel SGX Root CA",
            "Intel SGX Root CA",
            root_key,
            root_key,
            ca=True,
            path_length=1,
            serial=0x1001,
        )
        pck_ca = build(
            "Intel SGX PCK Platform CA",
            "Intel SGX Root CA",
            pck_ca_key,
            root_key,
            ca=True,
            path_length=0,
            serial=0x2002,
        )
        tcb_signer = build(
            "Intel SGX TCB Signing", "Intel SGX Root CA", tcb_key, root_key, ca=False, serial=0x3003
        )
        extension = encode_sgx_extension(fmspc=fmspc, components=components, pce_svn=pce_svn)
        pck = build(
            "Intel SGX PCK Certificate",
            "Intel SGX PCK Platform CA",
            pck_key,
            pck_ca_key,
            ca=False,
            serial=0x4004,
            extra=extension,
        )
        return cls(now, root_key, root, pck_ca_key, pck_ca, tcb_key, tcb_signer, pck_key, pck,
                   fmspc, pce_svn, components)  # fmt: skip

    # ----- collateral -----------------------------------------------------------------------

    def _crl(
        self,
        issuer: x509.Certificate,
        signer: ec.EllipticCurvePrivateKey,
        revoked: list[int],
        lifetime: timedelta,
    ) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.subject)
            .last_update(self.now - timedelta(days=1))
            .next_update(self.now + lifetime)
        )
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(self.now - timedelta(days=2))
                .build()
            )
        crl = builder.sign(signer, hashes.SHA256())
        return crl.public_bytes(serialization.Encoding.DER)

    def tcb_info_json(self, *, status: str = "UpToDate", tcb_id: str = "SGX") -> bytes:
        tcb: dict[str, object] = {
            "sgxtcbcomponents": [{"svn": svn} for svn in self.components],
            "pcesvn": self.pce_svn,
        }
        extra: dict[str, object] = {}
        if tcb_id == "TDX":
            tcb["tdxtcbcomponents"] = [{"svn": 0} for _ in range(16)]
            extra["tdxModule"] = {
                "mrsigner": "00" * 48,
                "attributes": "00" * 8,
                "attributesMask": "FF" * 8,
            }
        level = {"tcb": tcb, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": status}
        document = {
            **extra,
            "id": tcb_id,
            "version": 3,
            "issueDate": _instant(self.now - timedelta(days=1)),
            "nextUpdate": _instant(self.now + timedelta(days=29)),
            "fmspc": self.fmspc.hex(),
            "pceId": "0000",
            "tcbType": 0,
            "tcbEvaluationDataNumber": 17,
            "tcbLevels": [level],
        }
        return json.dumps(document, separators=(",", ":")).encode()

    def qe_identity_json(self, quote: Quote, *, identity_id: str = "QE") -> bytes:
        report = quote.certification.qe_report
        document = {
            "id": identity_id,
            "version": 2,
            "issueDate": _instant(self.now - timedelta(days=1)),
            "nextUpdate": _instant(self.now + timedelta(days=29)),
            "tcbEvaluationDataNumber": 17,
            "miscselect": struct.pack("<I", report.misc_select).hex(),
            "miscselectMask": "FFFFFFFF",
            "attributes": report.attributes.hex(),
            "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
            "mrsigner": report.mr_signer.hex().upper(),
            "isvprodid": report.isv_prod_id,
            "tcbLevels": [
                {
                    "tcb": {"isvsvn": report.isv_svn},
                    "tcbDate": "2024-03-13T00:00:00Z",
                    "tcbStatus": "UpToDate",
                }
            ],
        }
        return json.dumps(document, separators=(",", ":")).encode()

    def collateral(self, quote: Quote, options: PkiOptions = PkiOptions()) -> Collateral:
        """Collateral for ``quote`` (a quote from :meth:`resign`), broken as ``options`` say."""
        pck_revoked = [self.pck.serial_number] if options.revoke_pck_leaf else []
        root_revoked = [self.pck_ca.serial_number] if options.revoke_pck_ca else []
        tcb_info = self.tcb_info_json(status=options.tcb_status, tcb_id=options.tcb_info_id)
        qe_identity = self.qe_identity_json(quote, identity_id=options.qe_identity_id)
        return Collateral(
            pck_crl=self._crl(
                self.pck_ca, options.pck_crl_signer or self.pck_ca_key, pck_revoked,
                options.crl_lifetime,
            ),
            pck_crl_issuer_chain=_pem(self.pck_ca, self.root),
            root_ca_crl=self._crl(
                self.root, options.root_crl_signer or self.root_key, root_revoked,
                options.crl_lifetime,
            ),
            tcb_info=tcb_info,
            tcb_info_signature=raw_signature(self.tcb_signer_key, tcb_info),
            tcb_info_issuer_chain=_pem(self.tcb_signer, self.root),
            qe_identity=qe_identity,
            qe_identity_signature=raw_signature(self.tcb_signer_key, qe_identity),
            qe_identity_issuer_chain=_pem(self.tcb_signer, self.root),
        )  # fmt: skip

    # ----- quotes ---------------------------------------------------------------------------

    def resign(self, quote: Quote) -> bytes:
        """A v3 SGX quote with ``quote``'s header, body, QE report and auth data, certified by
        this PKI: fresh attestation key, QE report re-bound and signed by this PCK key."""
        if quote.header.version != 3:
            raise ValueError("resign builds version 3 (SGX) quotes only")
        attestation_key = _key()
        point = _point(attestation_key.public_key())[1:]
        certification = quote.certification
        qe_raw = certification.qe_report.raw
        binding = hashlib.sha256(point + certification.qe_auth_data).digest()
        qe_report = qe_raw[:320] + binding + bytes(32)
        chain = _pem(self.pck, self.pck_ca, self.root)
        signature_data = (
            raw_signature(attestation_key, quote.signed_data)
            + point
            + qe_report
            + raw_signature(self.pck_key, qe_report)
            + struct.pack("<H", len(certification.qe_auth_data))
            + certification.qe_auth_data
            + struct.pack("<HI", 5, len(chain))
            + chain
        )
        return quote.signed_data + struct.pack("<I", len(signature_data)) + signature_data


def _instant(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# ----- certificate surgery: encodings cryptography's builder refuses to write -------------------

_TAG_VERSION = 0xA0  # [0] EXPLICIT Version (RFC 5280 §4.1)
_TAG_EXTENSIONS = 0xA3  # [3] EXPLICIT Extensions


def _der_items(der: bytes) -> list[bytes]:
    """The TLVs (tag and length included) inside one constructed DER value (single-byte tags,
    definite lengths: all X.509 uses)."""
    items: list[bytes] = []
    position, end = _content(der, 0)
    if end != len(der):
        raise ValueError("trailing bytes after the DER value")
    while position < end:
        item_end = _content(der, position)[1]
        items.append(der[position:item_end])
        position = item_end
    return items


def _content(der: bytes, position: int) -> tuple[int, int]:
    first = der[position + 1]
    start = position + 2 + (first & 0x7F if first & 0x80 else 0)
    size = int.from_bytes(der[position + 2 : start], "big") if first & 0x80 else first
    if start + size > len(der):
        raise ValueError("truncated DER")
    return start, start + size


def with_version(der: bytes, version: int) -> bytes:
    """Certificate ``der`` re-encoded with its version INTEGER set to ``version`` (lengths
    recomputed; the signature is kept, so only parsing can be what refuses it)."""
    tbs, algorithm, signature = _der_items(der)
    fields = _der_items(tbs)
    if fields[0][0] == _TAG_VERSION:
        fields = fields[1:]
    tbs = _tlv(0x30, _tlv(_TAG_VERSION, _integer(version)) + b"".join(fields))
    return _tlv(0x30, tbs + algorithm + signature)


def with_duplicated_extension(
    certificate: x509.Certificate, oid: str, signer: ec.EllipticCurvePrivateKey
) -> bytes:
    """DER of ``certificate`` with its extension ``oid`` present twice in a row, re-signed
    (ECDSA-SHA256) by ``signer`` so that only the duplicate is wrong."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    tbs, algorithm, _ = _der_items(der)
    fields = _der_items(tbs)
    if fields[-1][0] != _TAG_EXTENSIONS:
        raise ValueError("the certificate has no extensions")
    extensions = _der_items(_der_items(fields[-1])[0])
    [index] = [i for i, e in enumerate(extensions) if _der_items(e)[0] == _oid(oid)]
    extensions.insert(index, extensions[index])
    block = _tlv(_TAG_EXTENSIONS, _tlv(0x30, b"".join(extensions)))
    tbs = _tlv(0x30, b"".join(fields[:-1]) + block)
    signature = signer.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signature))


def pem_of(*ders: bytes, width: int = 64, newline: bytes = b"\n", separator: bytes = b"") -> bytes:
    """``CERTIFICATE`` PEM blocks of ``ders``, base64 lines of ``width`` characters, lines
    ended by ``newline`` and ``separator`` between blocks."""
    blocks: list[bytes] = []
    for der in ders:
        text = base64.b64encode(der)
        lines = [text[i : i + width] for i in range(0, len(text), width)]
        blocks.append(
            newline.join(
                [b"-----BEGIN CERTIFICATE-----", *lines, b"-----END CERTIFICATE-----", b""]
            )
        )
    return separator.join(blocks)
