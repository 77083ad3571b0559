"""X.509 chains and CRLs of Intel's SGX PKI, checked against a pinned root key.

Signatures, CA constraints and revocation are checked here; validity *windows* are returned
as data (:class:`ValidityWindow`) so a verified chain can be re-checked against another
``now`` without verifying its signatures again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from veil.attestation.errors import CollateralExpiredError, QuoteVerificationError
from veil.attestation.roots import TrustAnchor

__all__ = [
    "MAX_CHAIN_CERTIFICATES",
    "NO_KNOWN_CERTIFICATES",
    "KnownCertificates",
    "ValidityWindow",
    "VerifiedCrl",
    "chain_windows",
    "check_not_revoked",
    "load_pem_chain",
    "p256_key",
    "public_key_bytes",
    "verify_chain",
    "verify_crl",
    "verify_ecdsa_p256",
]

#: Intel chains are 2 (signer, root) or 3 (PCK, PCK CA, root) certificates long.
MAX_CHAIN_CERTIFICATES = 4

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_UNDERSTOOD_CRITICAL = frozenset({ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE})


def _children(der: bytes, count: int) -> list[bytes]:
    """The first ``count`` TLVs (raw, tag included) inside the DER SEQUENCE ``der``.

    Names are compared as DER bytes (as webpki does), which avoids decoding them into
    Python objects on every verification. ``cryptography`` already parsed these bytes, so
    a failure here means a bug or a malformed structure: ValueError, wrapped by callers.
    """
    if len(der) < 2 or der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    position = _header_length(der, 0)
    items: list[bytes] = []
    while len(items) < count:
        if position + 2 > len(der):
            raise ValueError("truncated DER")
        header = _header_length(der, position)
        end = position + header + _content_length(der, position)
        items.append(der[position:end])
        position = end
    return items


def _header_length(der: bytes, position: int) -> int:
    first = der[position + 1]
    return 2 + (first & 0x7F if first & 0x80 else 0)


def _content_length(der: bytes, position: int) -> int:
    first = der[position + 1]
    if not first & 0x80:
        return first
    count = first & 0x7F
    return int.from_bytes(der[position + 2 : position + 2 + count], "big")


def certificate_names(certificate: x509.Certificate) -> tuple[bytes, bytes, bytes]:
    """(issuer, subject, subjectPublicKeyInfo) of a v3 certificate, each as DER."""
    # TBSCertificate: [0] version, serialNumber, signature, issuer, validity, subject, spki, …
    fields = _children(certificate.tbs_certificate_bytes, 7)
    if fields[0][0] != 0xA0:
        raise ValueError("not an X.509 v3 certificate")
    return fields[3], fields[5], fields[6]


def crl_issuer(crl: x509.CertificateRevocationList) -> bytes:
    """The issuer of a CRL as DER."""
    # TBSCertList: version (optional INTEGER), signature, issuer, thisUpdate, …
    fields = _children(crl.tbs_certlist_bytes, 3)
    return fields[2] if fields[0][0] == 0x02 else fields[1]


@dataclass(frozen=True)
class ValidityWindow:
    """When one piece of evidence is valid; ``not_before`` None means no lower bound."""

    step: str
    what: str
    not_before: datetime | None
    not_after: datetime

    def contains(self, now: datetime) -> bool:
        return (self.not_before is None or self.not_before <= now) and now <= self.not_after


def check_windows(windows: Iterable[ValidityWindow], now: datetime, *, allow_expired: bool) -> bool:
    """Raise CollateralExpiredError for the first window not containing ``now``; with
    ``allow_expired`` return True instead (the caller flags and logs it)."""
    for window in windows:
        if not window.contains(now):
            if allow_expired:
                return True
            since = window.not_before.isoformat() if window.not_before else "-"
            raise CollateralExpiredError(
                window.step,
                f"{window.what} is not valid at {now.isoformat()} "
                f"(valid {since} to {window.not_after.isoformat()})",
            )
    return False


def load_pem_chain(pem: bytes, *, step: str, what: str) -> tuple[x509.Certificate, ...]:
    """Certificates of a PEM chain, leaf first; malformed input fails ``step``."""
    try:
        certificates = tuple(x509.load_pem_x509_certificates(pem.rstrip(b"\0")))
    except ValueError as e:
        raise QuoteVerificationError(step, f"{what} cannot be parsed: {e}") from e
    if not 2 <= len(certificates) <= MAX_CHAIN_CERTIFICATES:
        raise QuoteVerificationError(
            step, f"{what} has {len(certificates)} certificates (expected 2-4)"
        )
    return certificates


def public_key_bytes(certificate: x509.Certificate, *, step: str, what: str) -> bytes:
    key = p256_key(certificate, step=step, what=what)
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def verify_ecdsa_p256(key: ec.EllipticCurvePublicKey, signature_der: bytes, data: bytes) -> bool:
    try:
        key.verify(signature_der, data, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def p256_key(certificate: x509.Certificate, *, step: str, what: str) -> ec.EllipticCurvePublicKey:
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as e:
        raise QuoteVerificationError(step, f"{what} has a malformed public key") from e
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise QuoteVerificationError(step, f"{what} does not hold a P-256 key")
    return key


def _basic_constraints(certificate: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _check_extensions(certificate: x509.Certificate, *, step: str, what: str) -> None:
    try:
        extensions = certificate.extensions
    except ValueError as e:
        raise QuoteVerificationError(step, f"{what} has malformed extensions: {e}") from e
    for extension in extensions:
        if extension.critical and extension.oid not in _UNDERSTOOD_CRITICAL:
            raise QuoteVerificationError(
                step, f"{what} has an unsupported critical extension {extension.oid.dotted_string}"
            )


@dataclass(frozen=True)
class KnownCertificates:
    """Certificates already checked against one anchor (compared by DER)."""

    #: Validly issued, with CA constraints respected, in a chain ending at the anchor.
    issued: frozenset[x509.Certificate] = frozenset()
    #: Top certificates that carry the anchor's key.
    anchors: frozenset[x509.Certificate] = frozenset()


NO_KNOWN_CERTIFICATES = KnownCertificates()


def verify_chain(
    certificates: Sequence[x509.Certificate],
    *,
    anchor: TrustAnchor,
    step: str,
    what: str,
    known: KnownCertificates = NO_KNOWN_CERTIFICATES,
    leaf_is_ca: bool = False,
) -> KnownCertificates:
    """Check a leaf-first chain ends at ``anchor`` and every link is a valid CA signature.

    The last certificate must carry the anchor's key; its name and self-signature do not
    matter (the key is the pin). ``leaf_is_ca`` says whether the first certificate must be a
    CA (a CRL issuer) or an end entity. ``known`` holds certificates checked before against
    the same anchor; they are not checked twice. Returns ``known`` plus this chain.
    """
    try:
        return _verify_chain(
            certificates, anchor=anchor, step=step, what=what, known=known, leaf_is_ca=leaf_is_ca
        )
    except ValueError as e:  # cryptography decodes fields lazily
        raise QuoteVerificationError(step, f"{what} has a malformed certificate: {e}") from e


def _verify_chain(
    certificates: Sequence[x509.Certificate],
    *,
    anchor: TrustAnchor,
    step: str,
    what: str,
    known: KnownCertificates,
    leaf_is_ca: bool,
) -> KnownCertificates:
    top = certificates[-1]
    if top not in known.anchors and (certificate_names(top)[2] != anchor.subject_public_key_info):
        raise QuoteVerificationError(step, f"{what} does not end at the pinned {anchor.name} key")
    leaf = certificates[0]
    if leaf not in known.issued:
        constraints = _basic_constraints(leaf)
        if (constraints is not None and constraints.ca) != leaf_is_ca:
            role = "a CA" if leaf_is_ca else "an end entity"
            raise QuoteVerificationError(step, f"{what}: the first certificate is not {role}")
    for depth, (child, issuer) in enumerate(itertools.pairwise(certificates)):
        if child in known.issued:
            continue
        label = f"{what} certificate {depth}"
        _check_extensions(child, step=step, what=label)
        _check_issuer(issuer, depth, step=step, what=what)
        if certificate_names(child)[0] != certificate_names(issuer)[1]:
            raise QuoteVerificationError(step, f"{label} is not issued by the next one")
        if child.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
            raise QuoteVerificationError(step, f"{label} is not signed with ECDSA-SHA256")
        issuer_key = p256_key(issuer, step=step, what=f"{what} issuer")
        if not verify_ecdsa_p256(issuer_key, child.signature, child.tbs_certificate_bytes):
            raise QuoteVerificationError(step, f"{label} has an invalid signature")
    if top not in known.anchors:
        _check_extensions(top, step=step, what=f"{what} root")
    return KnownCertificates(
        issued=known.issued | frozenset(certificates[:-1]), anchors=known.anchors | {top}
    )


def _check_issuer(issuer: x509.Certificate, depth: int, *, step: str, what: str) -> None:
    """``issuer`` may sign certificates, with ``depth`` CA certificates below it."""
    constraints = _basic_constraints(issuer)
    if constraints is None or not constraints.ca:
        raise QuoteVerificationError(step, f"{what}: an issuer is not a CA")
    if constraints.path_length is not None and constraints.path_length < depth:
        raise QuoteVerificationError(step, f"{what}: path length constraint violated")
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise QuoteVerificationError(step, f"{what}: an issuer may not sign certificates")


def chain_windows(
    certificates: Sequence[x509.Certificate], *, step: str, what: str
) -> tuple[ValidityWindow, ...]:
    try:
        return tuple(
            ValidityWindow(
                step,
                f"{what} certificate {depth}",
                cert.not_valid_before_utc,
                cert.not_valid_after_utc,
            )
            for depth, cert in enumerate(certificates)
        )
    except ValueError as e:
        raise QuoteVerificationError(step, f"{what} has a malformed validity: {e}") from e


@dataclass(frozen=True)
class VerifiedCrl:
    """A CRL whose signature was verified by its issuer's key."""

    #: The issuer name as DER.
    issuer: bytes
    #: SEC1 point of the key that signed it.
    issuer_key: bytes
    this_update: datetime
    next_update: datetime
    crl: x509.CertificateRevocationList

    def is_revoked(self, serial: int) -> bool:
        return self.crl.get_revoked_certificate_by_serial_number(serial) is not None

    def window(self, step: str, what: str) -> ValidityWindow:
        # thisUpdate in the future is not refused (as dcap-qvl): a newer CRL only adds
        # revocations, so judging an old instant with it is stricter, never weaker.
        return ValidityWindow(step, what, None, self.next_update)


def verify_crl(der: bytes, *, issuer: x509.Certificate, step: str, what: str) -> VerifiedCrl:
    """Parse a DER CRL and check it is signed (ECDSA-SHA256) by ``issuer``."""
    try:
        crl = x509.load_der_x509_crl(der)
        next_update = crl.next_update_utc
        this_update = crl.last_update_utc
        issuer_name = crl_issuer(crl)
        issuer_subject = certificate_names(issuer)[1]
    except ValueError as e:
        raise QuoteVerificationError(step, f"{what} cannot be parsed: {e}") from e
    if next_update is None:
        raise QuoteVerificationError(step, f"{what} has no nextUpdate")
    if issuer_name != issuer_subject:
        raise QuoteVerificationError(step, f"{what} is not issued by the expected CA")
    if crl.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
        raise QuoteVerificationError(step, f"{what} is not signed with ECDSA-SHA256")
    key = p256_key(issuer, step=step, what=f"{what} issuer")
    if not verify_ecdsa_p256(key, crl.signature, crl.tbs_certlist_bytes):
        raise QuoteVerificationError(step, f"{what} has an invalid signature")
    return VerifiedCrl(
        issuer=issuer_name,
        issuer_key=key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint),
        this_update=this_update,
        next_update=next_update,
        crl=crl,
    )


def check_not_revoked(
    certificate: x509.Certificate, crl: VerifiedCrl, *, step: str, what: str
) -> None:
    """``crl`` must be the one covering ``certificate`` (same issuer) and not list it."""
    try:
        issuer, serial = certificate_names(certificate)[0], certificate.serial_number
    except ValueError as e:
        raise QuoteVerificationError(step, f"{what} has a malformed issuer or serial") from e
    if issuer != crl.issuer:
        raise QuoteVerificationError(step, f"no CRL of the issuer of {what}")
    try:
        revoked = crl.is_revoked(serial)
    except ValueError as e:  # entries are decoded at lookup
        raise QuoteVerificationError(step, f"the CRL covering {what} is malformed") from e
    if revoked:
        raise QuoteVerificationError(step, f"{what} is revoked")
