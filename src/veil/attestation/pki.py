"""X.509 chains and CRLs of Intel's SGX PKI, checked against a pinned root key.

Signatures, CA constraints and revocation are checked here; validity *windows* are returned
as data (:class:`ValidityWindow`) so a verified chain can be re-checked against another
``now`` without verifying its signatures again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from veil.attestation._parsed_x509 import (
    ParsedCertificate,
    crl_tbs_and_issuer,
    read_pem_certificates,
)
from veil.attestation.errors import CollateralExpiredError, QuoteVerificationError
from veil.attestation.roots import TrustAnchor

__all__ = [
    "MAX_CHAIN_CERTIFICATES",
    "NO_KNOWN_CERTIFICATES",
    "KnownCertificates",
    "ParsedCertificate",
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


@dataclass(frozen=True)
class ValidityWindow:
    """When one piece of evidence is valid; ``not_before`` None means no lower bound."""

    step: str
    what: str
    not_before: datetime | None
    not_after: datetime
    #: ``not_after`` itself is outside the window (a CRL's nextUpdate, as webpki and
    #: dcap-qvl read it); certificates, TCB info and QE identity include their last second.
    end_exclusive: bool = False

    def contains(self, now: datetime) -> bool:
        if self.not_before is not None and now < self.not_before:
            return False
        return now < self.not_after if self.end_exclusive else now <= self.not_after


def check_windows(windows: Iterable[ValidityWindow], now: datetime, *, allow_expired: bool) -> bool:
    """Raise CollateralExpiredError for the first window not containing ``now``; with
    ``allow_expired`` return True instead (the caller flags and logs it)."""
    for window in windows:
        if not window.contains(now):
            if allow_expired:
                return True
            since = window.not_before.isoformat() if window.not_before else "-"
            until = "before" if window.end_exclusive else "to"
            raise CollateralExpiredError(
                window.step,
                f"{window.what} is not valid at {now.isoformat()} "
                f"(valid {since} {until} {window.not_after.isoformat()})",
            )
    return False


def load_pem_chain(
    pem: bytes, *, step: str, what: str, known: KnownCertificates | None = None
) -> tuple[ParsedCertificate, ...]:
    """Certificates of a PEM chain, leaf first; malformed input fails ``step``.

    A certificate in ``known`` (same PEM base64) is reused as it is, not parsed again.
    """
    try:
        certificates = tuple(
            read_pem_certificates(pem.rstrip(b"\0"), known.by_base64 if known is not None else None)
        )
    except (ValueError, x509.InvalidVersion) as e:  # InvalidVersion is not a ValueError
        raise QuoteVerificationError(step, f"{what} cannot be parsed: {e}") from e
    if not 2 <= len(certificates) <= MAX_CHAIN_CERTIFICATES:
        raise QuoteVerificationError(
            step, f"{what} has {len(certificates)} certificates (expected 2-4)"
        )
    return certificates


def _parsed(certificate: x509.Certificate | ParsedCertificate) -> ParsedCertificate:
    if isinstance(certificate, ParsedCertificate):
        return certificate
    return ParsedCertificate.of(certificate)


def public_key_bytes(
    certificate: x509.Certificate | ParsedCertificate, *, step: str, what: str
) -> bytes:
    key = p256_key(certificate, step=step, what=what)
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def verify_ecdsa_p256(key: ec.EllipticCurvePublicKey, signature_der: bytes, data: bytes) -> bool:
    try:
        key.verify(signature_der, data, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def p256_key(
    certificate: x509.Certificate | ParsedCertificate, *, step: str, what: str
) -> ec.EllipticCurvePublicKey:
    if isinstance(certificate, ParsedCertificate):
        certificate = certificate.certificate
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as e:
        raise QuoteVerificationError(step, f"{what} has a malformed public key") from e
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise QuoteVerificationError(step, f"{what} does not hold a P-256 key")
    return key


@dataclass(frozen=True, slots=True)
class _ExtensionFacts:
    """What chain checks need from a certificate's extensions, read in one pass."""

    basic_constraints: x509.BasicConstraints | None
    key_usage: x509.KeyUsage | None
    #: The first critical extension this verifier does not understand.
    unknown_critical: x509.ObjectIdentifier | None

    @classmethod
    def of(cls, certificate: x509.Certificate) -> _ExtensionFacts:
        """ValueError when ``cryptography`` finds the extensions malformed (or duplicated)."""
        try:
            extensions = certificate.extensions
        except x509.DuplicateExtension as e:  # not a ValueError
            raise ValueError(f"duplicate extension {e.oid.dotted_string}") from e
        constraints = usage = unknown = None
        for extension in extensions:
            value = extension.value
            if isinstance(value, x509.BasicConstraints):
                constraints = value
            elif isinstance(value, x509.KeyUsage):
                usage = value
            if unknown is None and extension.critical and extension.oid not in _UNDERSTOOD_CRITICAL:
                unknown = extension.oid
        return cls(constraints, usage, unknown)


def _check_critical(facts: _ExtensionFacts, *, step: str, what: str) -> None:
    if facts.unknown_critical is not None:
        raise QuoteVerificationError(
            step,
            f"{what} has an unsupported critical extension {facts.unknown_critical.dotted_string}",
        )


@dataclass(frozen=True)
class KnownCertificates:
    """Certificates already checked against one anchor, by DER.

    Looked up by DER bytes: ``x509.Certificate`` hashes by walking its parsed structure.
    """

    #: DER of certificates validly issued, with CA constraints respected, in a chain ending
    #: at the anchor.
    issued_der: frozenset[bytes] = frozenset()
    #: DER of top certificates that carry the anchor's key.
    anchors_der: frozenset[bytes] = frozenset()
    #: Every certificate above, parsed.
    by_der: Mapping[bytes, ParsedCertificate] = field(
        default_factory=dict, repr=False, compare=False
    )
    #: Those read from PEM, by their base64: a chain presenting one again reuses it.
    by_base64: Mapping[bytes, ParsedCertificate] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def issued(self) -> frozenset[x509.Certificate]:
        return frozenset(self.by_der[der].certificate for der in self.issued_der)

    @property
    def anchors(self) -> frozenset[x509.Certificate]:
        return frozenset(self.by_der[der].certificate for der in self.anchors_der)


NO_KNOWN_CERTIFICATES = KnownCertificates()


def verify_chain(
    certificates: Sequence[x509.Certificate | ParsedCertificate],
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
            [_parsed(c) for c in certificates],
            anchor=anchor,
            step=step,
            what=what,
            known=known,
            leaf_is_ca=leaf_is_ca,
        )
    except ValueError as e:  # cryptography decodes fields lazily
        raise QuoteVerificationError(step, f"{what} has a malformed certificate: {e}") from e


def _verify_chain(
    certificates: Sequence[ParsedCertificate],
    *,
    anchor: TrustAnchor,
    step: str,
    what: str,
    known: KnownCertificates,
    leaf_is_ca: bool,
) -> KnownCertificates:
    # Each certificate's extensions are read once, on first need, whatever roles it plays.
    facts: dict[int, _ExtensionFacts] = {}

    def facts_of(index: int) -> _ExtensionFacts:
        if index not in facts:
            facts[index] = _ExtensionFacts.of(certificates[index].certificate)
        return facts[index]

    def checked_facts_of(index: int, label: str) -> _ExtensionFacts:
        try:
            result = facts_of(index)
        except ValueError as e:
            raise QuoteVerificationError(step, f"{label} has malformed extensions: {e}") from e
        _check_critical(result, step=step, what=label)
        return result

    top = certificates[-1]
    top_known = top.der in known.anchors_der
    if not top_known and top.subject_public_key_info != anchor.subject_public_key_info:
        raise QuoteVerificationError(step, f"{what} does not end at the pinned {anchor.name} key")
    leaf = certificates[0]
    if leaf.der not in known.issued_der:
        constraints = facts_of(0).basic_constraints
        if (constraints is not None and constraints.ca) != leaf_is_ca:
            role = "a CA" if leaf_is_ca else "an end entity"
            raise QuoteVerificationError(step, f"{what}: the first certificate is not {role}")
    for depth, (child, issuer) in enumerate(itertools.pairwise(certificates)):
        if child.der in known.issued_der:
            continue
        label = f"{what} certificate {depth}"
        checked_facts_of(depth, label)
        _check_issuer(facts_of(depth + 1), depth, step=step, what=what)
        if child.issuer != issuer.subject:
            raise QuoteVerificationError(step, f"{label} is not issued by the next one")
        if child.certificate.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
            raise QuoteVerificationError(step, f"{label} is not signed with ECDSA-SHA256")
        issuer_key = p256_key(issuer, step=step, what=f"{what} issuer")
        if not verify_ecdsa_p256(issuer_key, child.certificate.signature, child.tbs):
            raise QuoteVerificationError(step, f"{label} has an invalid signature")
    if not top_known:
        checked_facts_of(len(certificates) - 1, f"{what} root")
    issued = certificates[:-1]
    return KnownCertificates(
        issued_der=known.issued_der.union(c.der for c in issued),
        anchors_der=known.anchors_der | {top.der},
        by_der={**known.by_der, **{c.der: c for c in certificates}},
        by_base64={**known.by_base64, **{c.base64: c for c in certificates if c.base64}},
    )


def _check_issuer(facts: _ExtensionFacts, depth: int, *, step: str, what: str) -> None:
    """The issuer may sign certificates, with ``depth`` CA certificates below it."""
    constraints = facts.basic_constraints
    if constraints is None or not constraints.ca:
        raise QuoteVerificationError(step, f"{what}: an issuer is not a CA")
    if constraints.path_length is not None and constraints.path_length < depth:
        raise QuoteVerificationError(step, f"{what}: path length constraint violated")
    if facts.key_usage is not None and not facts.key_usage.key_cert_sign:
        raise QuoteVerificationError(step, f"{what}: an issuer may not sign certificates")


def chain_windows(
    certificates: Sequence[x509.Certificate | ParsedCertificate], *, step: str, what: str
) -> tuple[ValidityWindow, ...]:
    try:
        return tuple(
            ValidityWindow(
                step,
                f"{what} certificate {depth}",
                cert.not_valid_before_utc,
                cert.not_valid_after_utc,
            )
            for depth, cert in enumerate(_parsed(c).certificate for c in certificates)
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
        # revocations, so judging an old instant with it is stricter, never weaker. At
        # nextUpdate a newer CRL is due, so that second is already outside (as webpki).
        return ValidityWindow(step, what, None, self.next_update, end_exclusive=True)


def verify_crl(
    der: bytes, *, issuer: x509.Certificate | ParsedCertificate, step: str, what: str
) -> VerifiedCrl:
    """Parse a DER CRL and check it is signed (ECDSA-SHA256) by ``issuer``."""
    try:
        crl = x509.load_der_x509_crl(der)
        next_update = crl.next_update_utc
        this_update = crl.last_update_utc
        algorithm, signature = crl.signature_algorithm_oid, crl.signature
        # The exact signed bytes: ``tbs_certlist_bytes`` re-encodes the whole list each time.
        tbs, issuer_name = crl_tbs_and_issuer(der)
        issuer_subject = _parsed(issuer).subject
    except (ValueError, x509.InvalidVersion) as e:  # InvalidVersion is not a ValueError
        raise QuoteVerificationError(step, f"{what} cannot be parsed: {e}") from e
    if next_update is None:
        raise QuoteVerificationError(step, f"{what} has no nextUpdate")
    if issuer_name != issuer_subject:
        raise QuoteVerificationError(step, f"{what} is not issued by the expected CA")
    if algorithm != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
        raise QuoteVerificationError(step, f"{what} is not signed with ECDSA-SHA256")
    key = p256_key(issuer, step=step, what=f"{what} issuer")
    if not verify_ecdsa_p256(key, signature, tbs):
        raise QuoteVerificationError(step, f"{what} has an invalid signature")
    return VerifiedCrl(
        issuer=issuer_name,
        issuer_key=key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint),
        this_update=this_update,
        next_update=next_update,
        crl=crl,
    )


def check_not_revoked(
    certificate: x509.Certificate | ParsedCertificate, crl: VerifiedCrl, *, step: str, what: str
) -> None:
    """``crl`` must be the one covering ``certificate`` (same issuer) and not list it."""
    try:
        parsed = _parsed(certificate)
        issuer, serial = parsed.issuer, parsed.certificate.serial_number
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
