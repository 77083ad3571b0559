"""DCAP quote verification (SGX v3, TDX v4/v5) as numbered steps, pure: bytes + collateral + now.

Steps (each failure raises QuoteVerificationError "step N.M: …"; the flow follows Intel's
QuoteVerificationLibrary and dcap-qvl; docs/attestation.md gives the reasons):

 1  header: 1.1 version 3/4/5, 1.2 ECDSA P-256 key, 1.3 Intel QE vendor, 1.4 TEE type vs body
 2  PCK chain and CRLs: 2.1 parse, 2.2 chain to the pinned root key, 2.3 validity at now,
    2.4 PCK CRL issuer chain, 2.5 root CA CRL signature, 2.6 PCK CRL signature,
    2.7 CRL nextUpdate, 2.8 revocation (PCK CA by root CRL, PCK by PCK CRL), 2.9 SGX extension
 3  3.1 QE report signed by the PCK key
 4  4.1 QE report data[0:32] = SHA-256(attestation key ‖ QE auth data), 4.2 [32:64] zero
 5  5.1 quote signed by the attestation key
 6  TCB info: 6.1 issuer chain, 6.2 signature, 6.4 validity; QE identity: 6.5, 6.6, 6.8
 7  7.1 FMSPC, 7.2 PCE-ID, 7.3 TCB info type vs TEE, 7.4 QE identity id vs TEE
 8  QE identity match (see veil.attestation.tcb)
 9  TDX module identity and TCB level (see veil.attestation.tcb)
 10 status merge; Revoked is an error

Validity windows raise CollateralExpiredError unless ``allow_expired_collateral_insecure``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from veil.attestation.collateral import Collateral
from veil.attestation.errors import QuoteVerificationError
from veil.attestation.pck import PckExtension, PckExtensionError
from veil.attestation.pki import (
    KnownCertificates,
    ParsedCertificate,
    ValidityWindow,
    VerifiedCrl,
    chain_windows,
    check_not_revoked,
    check_windows,
    load_pem_chain,
    p256_key,
    public_key_bytes,
    verify_chain,
    verify_crl,
    verify_ecdsa_p256,
)
from veil.attestation.qe_identity import QE_IDENTITY_ID_QE, QE_IDENTITY_ID_TD_QE, QeIdentity
from veil.attestation.quote import (
    BODY_TYPE_SGX,
    Quote,
    TdReport,
    measurements_of,
    parse_quote,
)
from veil.attestation.result import Tee, VerifiedQuote
from veil.attestation.roots import INTEL_SGX_ROOT, TrustAnchor
from veil.attestation.tcb import (
    check_qe_identity,
    check_tdx_module,
    match_tcb_level,
    merge_statuses,
)
from veil.attestation.tcb_info import TCB_INFO_ID_SGX, TCB_INFO_ID_TDX, TcbInfo

__all__ = [
    "INTEL_QE_VENDOR_ID",
    "VerifiedCollateral",
    "VerifyOptions",
    "verify_collateral",
    "verify_quote",
]

_log = logging.getLogger(__name__)

#: QE vendor id of Intel's quoting enclaves (header bytes 12-27).
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")


@dataclass(frozen=True, kw_only=True)
class VerifyOptions:
    """Knobs that weaken verification; every one is off by default and named for its danger."""

    #: Report expired (or not yet valid) collateral and certificates as
    #: ``VerifiedQuote.collateral_expired`` instead of failing. Signatures are still checked.
    allow_expired_collateral_insecure: bool = False


@dataclass(frozen=True, kw_only=True, eq=False)
class VerifiedCollateral:
    """Collateral whose signatures, chains and CRLs verified against one trust anchor.

    Reusable for many quotes and instants: :func:`verify_quote` re-checks every validity
    window against its own ``now`` and the quote's PCK chain against these CRLs.
    """

    collateral: Collateral
    tcb_info: TcbInfo
    qe_identity: QeIdentity
    root_ca_crl: VerifiedCrl
    pck_crl: VerifiedCrl
    #: Validity windows of every certificate, CRL, TCB info and QE identity above.
    windows: tuple[ValidityWindow, ...]
    anchor: TrustAnchor
    #: Certificates already checked against ``anchor`` (PCK CA, signers, roots).
    known_certificates: KnownCertificates
    verified_at: datetime
    collateral_expired: bool


def _anchor(trust_anchor_for_testing: bytes | None) -> TrustAnchor:
    if trust_anchor_for_testing is None:
        return INTEL_SGX_ROOT
    return TrustAnchor.for_testing(trust_anchor_for_testing)


def _check_now(now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def _der_signature(raw: bytes) -> bytes:
    """ECDSA r ‖ s (32 bytes each, big-endian) → DER, as ``cryptography`` verifies."""
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def _expired(windows: Sequence[ValidityWindow], now: datetime, options: VerifyOptions) -> bool:
    allow = options.allow_expired_collateral_insecure
    expired = check_windows(windows, now, allow_expired=allow)
    if expired:
        _log.warning(
            "INSECURE: collateral or certificates are outside their validity window at %s; "
            "accepted only because allow_expired_collateral_insecure is set",
            now.isoformat(),
        )
    return expired


def _signed_json_chain(
    chain_pem: bytes,
    *,
    root_crl: VerifiedCrl,
    anchor: TrustAnchor,
    known: KnownCertificates,
    step: str,
    what: str,
) -> tuple[tuple[ParsedCertificate, ...], KnownCertificates]:
    chain = load_pem_chain(chain_pem, step=step, what=what, known=known)
    if len(chain) != 2:
        raise QuoteVerificationError(step, f"{what} must be a signer and the root")
    known = verify_chain(chain, anchor=anchor, step=step, what=what, known=known)
    check_not_revoked(chain[0], root_crl, step=step, what=f"the {what} signer")
    return chain, known


def _check_signed_json(
    signer: ParsedCertificate, data: bytes, signature: bytes, *, step: str, what: str
) -> None:
    key = p256_key(signer, step=step, what=f"the {what} signer")
    if not verify_ecdsa_p256(key, _der_signature(signature), data):
        raise QuoteVerificationError(step, f"{what} signature is invalid")


def verify_collateral(
    collateral: Collateral,
    *,
    now: datetime,
    options: VerifyOptions = VerifyOptions(),
    trust_anchor_for_testing: bytes | None = None,
) -> VerifiedCollateral:
    """Verify everything in ``collateral`` that does not depend on a quote (steps 2.4-2.7, 6)."""
    _check_now(now)
    anchor = _anchor(trust_anchor_for_testing)

    crl_chain = load_pem_chain(
        collateral.pck_crl_issuer_chain, step="2.4", what="PCK CRL issuer chain"
    )
    if len(crl_chain) != 2:
        raise QuoteVerificationError("2.4", "PCK CRL issuer chain must be a PCK CA and the root")
    known = verify_chain(
        crl_chain, anchor=anchor, step="2.4", what="PCK CRL issuer chain", leaf_is_ca=True
    )
    pck_ca, root = crl_chain
    root_crl = verify_crl(collateral.root_ca_crl, issuer=root, step="2.5", what="root CA CRL")
    pck_crl = verify_crl(collateral.pck_crl, issuer=pck_ca, step="2.6", what="PCK CRL")
    check_not_revoked(pck_ca, root_crl, step="2.8", what="the PCK CRL's issuing CA")

    tcb_chain, known = _signed_json_chain(
        collateral.tcb_info_issuer_chain,
        root_crl=root_crl,
        anchor=anchor,
        known=known,
        step="6.1",
        what="TCB info issuer chain",
    )
    _check_signed_json(
        tcb_chain[0],
        collateral.tcb_info,
        collateral.tcb_info_signature,
        step="6.2",
        what="TCB info",
    )
    # Collateral parsed these bytes strictly (duplicate keys refused) when it was built.
    tcb_info = TcbInfo.from_json(collateral.tcb_info, duplicate_keys_checked=True)
    if collateral.qe_identity_issuer_chain == collateral.tcb_info_issuer_chain:
        qe_chain = tcb_chain  # Intel signs both with the same certificate: check it once
    else:
        qe_chain, known = _signed_json_chain(
            collateral.qe_identity_issuer_chain,
            root_crl=root_crl,
            anchor=anchor,
            known=known,
            step="6.5",
            what="QE identity issuer chain",
        )
    _check_signed_json(
        qe_chain[0],
        collateral.qe_identity,
        collateral.qe_identity_signature,
        step="6.6",
        what="QE identity",
    )
    qe_identity = QeIdentity.from_json(collateral.qe_identity, duplicate_keys_checked=True)

    # dcap-qvl's order (root CA CRL, TCB info, QE identity, PCK CRL, then certificates), so
    # both name the same expired piece first.
    windows = (
        root_crl.window("2.7", "root CA CRL"),
        ValidityWindow("6.4", "TCB info", tcb_info.issue_date, tcb_info.next_update),
        ValidityWindow("6.8", "QE identity", qe_identity.issue_date, qe_identity.next_update),
        pck_crl.window("2.7", "PCK CRL"),
        *chain_windows(crl_chain, step="2.4", what="PCK CRL issuer chain"),
        *chain_windows(tcb_chain, step="6.4", what="TCB info issuer chain"),
        *(
            chain_windows(qe_chain, step="6.8", what="QE identity issuer chain")
            if qe_chain is not tcb_chain
            else ()
        ),
    )
    expired = _expired(windows, now, options)
    return VerifiedCollateral(
        collateral=collateral,
        tcb_info=tcb_info,
        qe_identity=qe_identity,
        root_ca_crl=root_crl,
        pck_crl=pck_crl,
        windows=windows,
        anchor=anchor,
        known_certificates=known,
        verified_at=now,
        collateral_expired=expired,
    )


def _check_header(quote: Quote) -> None:
    """Step 1. The parser already refuses what it cannot read; these are the policy checks."""
    header = quote.header
    if header.version not in (3, 4, 5):
        raise QuoteVerificationError("1.1", f"unsupported quote version {header.version}")
    if header.attestation_key_type != 2:
        raise QuoteVerificationError("1.2", "attestation key type is not ECDSA P-256")
    if header.qe_vendor_id != INTEL_QE_VENDOR_ID:
        raise QuoteVerificationError("1.3", "the quote is not from Intel's quoting enclave")
    if (quote.tee is Tee.SGX) != (quote.body_type == BODY_TYPE_SGX):
        raise QuoteVerificationError("1.4", "the TEE type does not match the report body")


def _check_pck_chain(
    quote: Quote, verified: VerifiedCollateral, now: datetime, options: VerifyOptions
) -> tuple[ParsedCertificate, PckExtension, bool]:
    """Step 2 for the quote's own chain; returns the PCK leaf, its SGX extension, expiry."""
    chain = load_pem_chain(
        quote.certification.pck_cert_chain_pem,
        step="2.1",
        what="PCK certificate chain",
        known=verified.known_certificates,
    )
    if len(chain) != 3:
        raise QuoteVerificationError("2.1", "PCK certificate chain must be PCK, PCK CA, root")
    verify_chain(
        chain,
        anchor=verified.anchor,
        step="2.2",
        what="PCK certificate chain",
        known=verified.known_certificates,
    )
    expired = _expired(chain_windows(chain, step="2.3", what="PCK chain"), now, options)
    leaf, pck_ca = chain[0], chain[1]
    pck_crl = verified.pck_crl
    if public_key_bytes(pck_ca, step="2.8", what="PCK CA") != pck_crl.issuer_key:
        raise QuoteVerificationError("2.8", "the PCK CRL is not issued by the quote's PCK CA")
    check_not_revoked(leaf, pck_crl, step="2.8", what="the PCK certificate")
    check_not_revoked(pck_ca, verified.root_ca_crl, step="2.8", what="the PCK CA certificate")
    try:
        extension = PckExtension.from_certificate(leaf.certificate)
    except PckExtensionError as e:
        raise QuoteVerificationError("2.9", str(e)) from e
    return leaf, extension, expired


def _check_quote_signatures(quote: Quote, pck: ParsedCertificate) -> None:
    """Steps 3-5: PCK → QE report → attestation key → quote."""
    certification = quote.certification
    pck_key = p256_key(pck, step="3.1", what="the PCK certificate")
    if not verify_ecdsa_p256(
        pck_key,
        _der_signature(certification.qe_report_signature),
        certification.qe_report.raw,
    ):
        raise QuoteVerificationError("3.1", "the QE report signature is invalid")
    qe_report_data = certification.qe_report.report_data
    expected = hashlib.sha256(quote.attestation_key + certification.qe_auth_data).digest()
    if qe_report_data[:32] != expected:
        raise QuoteVerificationError(
            "4.1", "the QE report does not bind the attestation key and QE auth data"
        )
    if any(qe_report_data[32:]):
        raise QuoteVerificationError("4.2", "the QE report data's upper 32 bytes are not zero")
    try:
        attestation_key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b"\x04" + quote.attestation_key
        )
    except ValueError as e:
        raise QuoteVerificationError("5.1", "the attestation key is not a P-256 point") from e
    if not verify_ecdsa_p256(attestation_key, _der_signature(quote.signature), quote.signed_data):
        raise QuoteVerificationError("5.1", "the quote signature is invalid")


def _check_collateral_matches(
    quote: Quote, extension: PckExtension, verified: VerifiedCollateral
) -> None:
    """Step 7: the collateral describes this platform and this kind of TEE."""
    tcb_info, identity = verified.tcb_info, verified.qe_identity
    if extension.fmspc != tcb_info.fmspc:
        raise QuoteVerificationError(
            "7.1",
            f"FMSPC mismatch: PCK certificate {extension.fmspc.hex().upper()}, "
            f"TCB info {tcb_info.fmspc.hex().upper()}",
        )
    if extension.pce_id != tcb_info.pce_id:
        raise QuoteVerificationError("7.2", "PCE-ID of the PCK certificate and TCB info differ")
    if quote.tee is Tee.TDX:
        if tcb_info.id != TCB_INFO_ID_TDX or tcb_info.version < 3:
            raise QuoteVerificationError("7.3", "a TDX quote needs TDX TCB info (v3)")
        if identity.id != QE_IDENTITY_ID_TD_QE:
            raise QuoteVerificationError(
                "7.4", f"a TDX quote needs a TD_QE identity, not {identity.id}"
            )
    else:
        if tcb_info.id != TCB_INFO_ID_SGX:
            raise QuoteVerificationError("7.3", "an SGX quote needs SGX TCB info")
        if identity.id != QE_IDENTITY_ID_QE:
            raise QuoteVerificationError(
                "7.4", f"an SGX quote needs a QE identity, not {identity.id}"
            )


def verify_quote(
    quote: bytes | Quote,
    collateral: Collateral | VerifiedCollateral,
    *,
    now: datetime,
    options: VerifyOptions = VerifyOptions(),
    trust_anchor_for_testing: bytes | None = None,
) -> VerifiedQuote:
    """Verify a DCAP quote at ``now``; raises QuoteFormatError or QuoteVerificationError.

    Returns the verified facts; whether they are *acceptable* (debug mode, TCB status,
    measurements) is the policy's decision (``veil.attestation.policy``).
    """
    _check_now(now)
    parsed = parse_quote(quote) if isinstance(quote, bytes | bytearray) else quote
    if isinstance(collateral, VerifiedCollateral):
        verified = collateral
        if verified.anchor != _anchor(trust_anchor_for_testing):
            raise ValueError("the VerifiedCollateral was verified against another trust anchor")
        collateral_expired = _expired(verified.windows, now, options)
    else:
        verified = verify_collateral(
            collateral,
            now=now,
            options=options,
            trust_anchor_for_testing=trust_anchor_for_testing,
        )
        collateral_expired = verified.collateral_expired

    _check_header(parsed)
    pck, extension, chain_expired = _check_pck_chain(parsed, verified, now, options)
    _check_quote_signatures(parsed, pck)
    _check_collateral_matches(parsed, extension, verified)
    qe_verdict = check_qe_identity(verified.qe_identity, parsed.certification.qe_report)
    body = parsed.body
    tee_tcb_svn = body.tee_tcb_svn if isinstance(body, TdReport) else None
    level = match_tcb_level(
        verified.tcb_info,
        sgx_components=extension.tcb_components,
        pce_svn=extension.pce_svn,
        tee_tcb_svn=tee_tcb_svn,
    )
    module_verdict = (
        check_tdx_module(verified.tcb_info, body) if isinstance(body, TdReport) else None
    )
    verdict = merge_statuses(level, module_verdict, qe_verdict)
    return VerifiedQuote(
        tee=parsed.tee,
        version=parsed.header.version,
        tcb_status=verdict.status,
        advisory_ids=verdict.advisory_ids,
        measurements=measurements_of(parsed),
        report_data=parsed.report_data,
        debug=parsed.is_debug,
        fmspc=extension.fmspc.hex().upper(),
        collateral_expired=collateral_expired or chain_expired,
        verified_at=now,
    )
