"""X.509 chains and CRLs of Intel's SGX PKI, checked against a pinned root key.

Signatures, CA constraints and revocation are checked here; validity *windows* are returned
as data (:class:`ValidityWindow`) so a verified chain can be re-checked against another
``now`` without verifying its signatures again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
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
    "check_not_revoked",
    "check_windows",
    "chain_windows",
    "load_pem_chain",
    "public_key_bytes",
    "verify_chain",
    "verify_crl",
    "verify_ecdsa_p256",
]

#: Intel chains are 2 (signer, root) or 3 (PCK, PCK CA, root) certificates long.
MAX_CHAIN_CERTIFICATES = 4

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_UNDERSTOOD_CRITICAL = frozenset({ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE})


@dataclass(frozen=True)
class ValidityWindow:
    """When one piece of evidence is valid; ``not_before`` None means no lower bound."""

    step: str
    what: str
    not_before: datetime | None
    not_after: datetime

    def contains(self, now: datetime) -> bool:
        return (self.not_before is None or self.not_before <= now) and now <= self.not_after


def check_windows(
    windows: Iterable[ValidityWindow], now: datetime, *, allow_expired: bool
) -> bool:
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
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise QuoteVerificationError(step, f"{what} does not hold a P-256 key")
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def verify_ecdsa_p256(
    key: ec.EllipticCurvePublicKey, signature_der: bytes, data: bytes
) -> bool:
    try:
        key.verify(signature_der, data, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def _p256_key(certificate: x509.Certificate, *, step: str, what: str) -> ec.EllipticCurvePublicKey:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
        key.curve, ec.SECP256R1
    ):
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
    top = certificates[-1]
    if top not in known.anchors and (
        public_key_bytes(top, step=step, what=what) != anchor.public_key_bytes
    ):
        raise QuoteVerificationError(step, f"{what} does not end at the pinned {anchor.name} key")
    leaf = certificates[0]
    if leaf not in known.issued:
        if leaf.version is not x509.Version.v3:
            raise QuoteVerificationError(step, f"{what}: the first certificate is not X.509 v3")
        constraints = _basic_constraints(leaf)
        if (constraints is not None and constraints.ca) != leaf_is_ca:
            role = "a CA" if leaf_is_ca else "an end entity"
            raise QuoteVerificationError(step, f"{what}: the first certificate is not {role}")
    for depth, (child, issuer) in enumerate(zip(certificates, certificates[1:], strict=False)):
        if child in known.issued:
            continue
        label = f"{what} certificate {depth}"
        _check_extensions(child, step=step, what=label)
        _check_issuer(issuer, depth, step=step, what=what)
        if child.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
            raise QuoteVerificationError(step, f"{label} is not signed with ECDSA-SHA256")
        try:
            # Rust: issuer name == subject name, then the signature over the TBS bytes.
            child.verify_directly_issued_by(issuer)
        except ValueError as e:
            raise QuoteVerificationError(step, f"{label} is not issued by the next one") from e
        except (InvalidSignature, TypeError) as e:
            raise QuoteVerificationError(step, f"{label} has an invalid signature") from e
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
    return tuple(
        ValidityWindow(
            step, f"{what} certificate {depth}", cert.not_valid_before_utc, cert.not_valid_after_utc
        )
        for depth, cert in enumerate(certificates)
    )


@dataclass(frozen=True)
class VerifiedCrl:
    """A CRL whose signature was verified by its issuer's key."""

    issuer: x509.Name
    #: SEC1 point of the key that signed it.
    issuer_key: bytes
    this_update: datetime
    next_update: datetime
    revoked_serials: frozenset[int]

    def window(self, step: str, what: str) -> ValidityWindow:
        # thisUpdate in the future is not refused (as dcap-qvl): a newer CRL only adds
        # revocations, so judging an old instant with it is stricter, never weaker.
        return ValidityWindow(step, what, None, self.next_update)


def verify_crl(
    der: bytes, *, issuer: x509.Certificate, step: str, what: str
) -> VerifiedCrl:
    """Parse a DER CRL and check it is signed (ECDSA-SHA256) by ``issuer``."""
    try:
        crl = x509.load_der_x509_crl(der)
        next_update = crl.next_update_utc
        this_update = crl.last_update_utc
        revoked = frozenset(entry.serial_number for entry in crl)
    except ValueError as e:
        raise QuoteVerificationError(step, f"{what} cannot be parsed: {e}") from e
    if next_update is None:
        raise QuoteVerificationError(step, f"{what} has no nextUpdate")
    if crl.issuer != issuer.subject:
        raise QuoteVerificationError(step, f"{what} is not issued by {issuer.subject.rfc4514_string()}")
    if crl.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
        raise QuoteVerificationError(step, f"{what} is not signed with ECDSA-SHA256")
    key = _p256_key(issuer, step=step, what=f"{what} issuer")
    if not verify_ecdsa_p256(key, crl.signature, crl.tbs_certlist_bytes):
        raise QuoteVerificationError(step, f"{what} has an invalid signature")
    return VerifiedCrl(
        issuer=crl.issuer,
        issuer_key=key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint),
        this_update=this_update,
        next_update=next_update,
        revoked_serials=revoked,
    )


def check_not_revoked(
    certificate: x509.Certificate, crl: VerifiedCrl, *, step: str, what: str
) -> None:
    """``crl`` must be the one covering ``certificate`` (same issuer) and not list it."""
    if certificate.issuer != crl.issuer:
        raise QuoteVerificationError(step, f"no CRL of the issuer of {what}")
    if certificate.serial_number in crl.revoked_serials:
        raise QuoteVerificationError(step, f"{what} is revoked")
