"""Attacks found by the mutation-differential run against dcap-qvl: veil accepted, dcap-qvl refused.

One test per finding: a CRL used at its nextUpdate second, a TDX TCB info without module
identities (the module SVN went unchecked), QE identity and TDX module identity levels with a
status those identities do not define, and a CRL with an invalid version (an untyped exception).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dcap_qvl
import pytest
from cryptography import x509

from tests.attestation.dcap_bundles import Bundle
from tests.attestation.synthetic_pki import PkiOptions, SyntheticPki, raw_signature
from veil.attestation.collateral import Collateral
from veil.attestation.errors import (
    CollateralExpiredError,
    CollateralFormatError,
    QuoteVerificationError,
)
from veil.attestation.qe_identity import QeIdentity
from veil.attestation.quote import Quote, TdReport, parse_quote
from veil.attestation.tcb import check_tdx_module
from veil.attestation.tcb_info import TcbInfo
from veil.attestation.verifier import verify_collateral, verify_quote
from veil.errors import VeilError

NOW = datetime(2025, 6, 27, tzinfo=UTC)
#: Real TDX bundles whose PCK CRL is the first piece of collateral to expire.
CRL_LIMITED_BUNDLES = ["coco_trustee_tdx_quote_6_dat", "phala_dcap_qvl_near_gas_test_quote_hex_txt"]
TDX_BUNDLE = "google_go_tdx_guest_ccel_cos_113_tdx_quote_dat"


@pytest.fixture(scope="module")
def pki() -> SyntheticPki:
    return SyntheticPki.generate(now=NOW)


@pytest.fixture(scope="module")
def synthetic_quote(pki: SyntheticPki, vectors_dir: Path) -> bytes:
    return pki.resign(parse_quote((vectors_dir / "phala-dcap-qvl" / "sgx_quote").read_bytes()))


def _assert_qvl_refuses(bundle: Bundle, now: datetime, reason: str) -> None:
    collateral = dcap_qvl.QuoteCollateralV3.from_json(bundle.collateral_json.decode())
    with pytest.raises(ValueError, match=reason):
        dcap_qvl.verify(bundle.quote, collateral, int(now.timestamp()))


# ----- CRL nextUpdate is exclusive ---------------------------------------------------------------


@pytest.mark.parametrize("bundle_id", CRL_LIMITED_BUNDLES)
def test_real_pck_crl_is_expired_at_its_next_update_second(
    bundles: dict[str, Bundle], bundle_id: str
) -> None:
    bundle = bundles[bundle_id]
    next_update = x509.load_der_x509_crl(bundle.collateral.pck_crl).next_update_utc
    assert next_update is not None
    _assert_qvl_refuses(bundle, next_update, "CrlExpired")
    one_second_before = next_update - timedelta(seconds=1)
    verify_quote(bundle.quote, bundle.collateral, now=one_second_before)
    with pytest.raises(CollateralExpiredError) as caught:
        verify_quote(bundle.quote, bundle.collateral, now=next_update)
    assert caught.value.step == "2.7"
    assert "PCK CRL is not valid" in str(caught.value)


def test_synthetic_crls_are_expired_at_their_next_update_second(
    pki: SyntheticPki, synthetic_quote: bytes
) -> None:
    lifetime = timedelta(days=1)  # the CRLs expire before anything else
    collateral = pki.collateral(parse_quote(synthetic_quote), PkiOptions(crl_lifetime=lifetime))
    anchor = pki.root_public_key
    verify_quote(
        synthetic_quote,
        collateral,
        now=NOW + lifetime - timedelta(seconds=1),
        trust_anchor_for_testing=anchor,
    )
    with pytest.raises(CollateralExpiredError) as caught:
        verify_quote(
            synthetic_quote, collateral, now=NOW + lifetime, trust_anchor_for_testing=anchor
        )
    assert caught.value.step == "2.7"
    assert "root CA CRL is not valid" in str(caught.value)


def test_tcb_info_and_qe_identity_windows_include_both_ends(
    pki: SyntheticPki, synthetic_quote: bytes
) -> None:
    """dcap-qvl refuses only now > nextUpdate and now < issueDate for these: both ends are in."""
    anchor = pki.root_public_key
    collateral = pki.collateral(parse_quote(synthetic_quote))
    verified = verify_collateral(collateral, now=NOW, trust_anchor_for_testing=anchor)

    def verify(now: datetime) -> None:
        verify_quote(synthetic_quote, verified, now=now, trust_anchor_for_testing=anchor)

    for piece in (verified.tcb_info, verified.qe_identity):
        verify(piece.issue_date)
        verify(piece.next_update)
        for outside in (piece.issue_date, piece.next_update + timedelta(seconds=2)):
            with pytest.raises(CollateralExpiredError, match="step 6"):
                verify(outside - timedelta(seconds=1))


# ----- TDX module identities are needed for a module of version > 0 ----------------------------


@pytest.fixture(scope="module")
def tdx(bundles: dict[str, Bundle]) -> tuple[Quote, Collateral]:
    bundle = bundles[TDX_BUNDLE]
    return parse_quote(bundle.quote), bundle.collateral


def _without_module_identities(tcb_info: bytes) -> TcbInfo:
    document = json.loads(tcb_info)
    del document["tdxModuleIdentities"]
    return TcbInfo.from_json(json.dumps(document).encode())


def test_tdx_tcb_info_without_module_identities_fails_closed(
    tdx: tuple[Quote, Collateral],
) -> None:
    quote, collateral = tdx
    report = quote.body
    assert isinstance(report, TdReport)
    assert report.tee_tcb_svn[1] > 0  # a module of version > 0: judged by its identity
    info = _without_module_identities(collateral.tcb_info)
    assert info.tdx_module_identities == ()
    # Below every level of its identity: the module SVN must not go unchecked.
    too_old = dataclasses.replace(report, tee_tcb_svn=bytes([0, *report.tee_tcb_svn[1:]]))
    for body in (report, too_old):
        with pytest.raises(QuoteVerificationError) as caught:
            check_tdx_module(info, body)
        assert caught.value.step == "9.1"
        assert "no tdxModuleIdentities" in str(caught.value)
        assert f"TDX_{report.tee_tcb_svn[1]:02X}" in str(caught.value)


def test_tdx_module_of_version_zero_needs_no_identity(tdx: tuple[Quote, Collateral]) -> None:
    quote, collateral = tdx
    report = quote.body
    assert isinstance(report, TdReport)
    version_zero = bytes([report.tee_tcb_svn[0], 0, *report.tee_tcb_svn[2:]])
    info = _without_module_identities(collateral.tcb_info)
    assert check_tdx_module(info, dataclasses.replace(report, tee_tcb_svn=version_zero)) is None


# ----- statuses a QE identity or a TDX module identity does not define ---------------------------

#: Intel defines UpToDate, OutOfDate and Revoked for these levels; the platform-only statuses
#: would be ignored by status convergence, so a level carrying one would hide an old QE.
PLATFORM_ONLY_STATUSES = [
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDateConfigurationNeeded",
]


def _resigned_qe_identity(
    pki: SyntheticPki, collateral: Collateral, status: str
) -> tuple[Collateral, bytes]:
    document = json.loads(collateral.qe_identity)
    for level in document["tcbLevels"]:
        level["tcbStatus"] = status
    qe_identity = json.dumps(document, separators=(",", ":")).encode()
    resigned = dataclasses.replace(
        collateral,
        qe_identity=qe_identity,
        qe_identity_signature=raw_signature(pki.tcb_signer_key, qe_identity),
    )
    return resigned, qe_identity


@pytest.mark.parametrize("status", PLATFORM_ONLY_STATUSES)
def test_qe_identity_level_with_a_platform_only_status_is_refused(
    pki: SyntheticPki, synthetic_quote: bytes, status: str
) -> None:
    collateral = pki.collateral(parse_quote(synthetic_quote))
    resigned, qe_identity = _resigned_qe_identity(pki, collateral, status)
    with pytest.raises(CollateralFormatError, match=f"{status}.*not a QE identity"):
        QeIdentity.from_json(qe_identity)
    with pytest.raises(CollateralFormatError, match=status):
        verify_quote(
            synthetic_quote, resigned, now=NOW, trust_anchor_for_testing=pki.root_public_key
        )


@pytest.mark.parametrize("status", PLATFORM_ONLY_STATUSES)
def test_tdx_module_identity_level_with_a_platform_only_status_is_refused(
    tdx: tuple[Quote, Collateral], status: str
) -> None:
    document = json.loads(tdx[1].tcb_info)
    for identity in document["tdxModuleIdentities"]:
        for level in identity["tcbLevels"]:
            level["tcbStatus"] = status
    with pytest.raises(CollateralFormatError, match=f"{status}.*not a TDX module identity"):
        TcbInfo.from_json(json.dumps(document).encode())


@pytest.mark.parametrize("status", ["UpToDate", "OutOfDate", "Revoked"])
def test_qe_identity_statuses_intel_defines_are_read(
    pki: SyntheticPki, synthetic_quote: bytes, status: str
) -> None:
    collateral = pki.collateral(parse_quote(synthetic_quote))
    _, qe_identity = _resigned_qe_identity(pki, collateral, status)
    assert QeIdentity.from_json(qe_identity).tcb_levels[0].status.value == status


# ----- untyped exceptions --------------------------------------------------------------------


def _with_crl_version(der: bytes, version: int) -> bytes:
    """``der`` with its TBSCertList version INTEGER (v2 = 1) set to ``version``."""
    position = der.index(bytes.fromhex("020101"))
    return der[: position + 2] + bytes([version]) + der[position + 3 :]


@pytest.mark.parametrize("field", ["pck_crl", "root_ca_crl"])
def test_crl_with_an_invalid_version_is_a_typed_error(
    bundles: dict[str, Bundle], field: str
) -> None:
    bundle = bundles["phala_dcap_qvl_sgx_quote"]
    collateral = bundle.collateral
    bad = _with_crl_version(getattr(collateral, field), 5)
    with pytest.raises(x509.InvalidVersion):
        x509.load_der_x509_crl(bad)  # what cryptography raises: not a ValueError
    broken = (
        dataclasses.replace(collateral, pck_crl=bad)
        if field == "pck_crl"
        else dataclasses.replace(collateral, root_ca_crl=bad)
    )
    with pytest.raises(QuoteVerificationError, match="cannot be parsed") as caught:
        verify_quote(bundle.quote, broken, now=bundle.now)
    assert caught.value.step == ("2.6" if field == "pck_crl" else "2.5")
    assert isinstance(caught.value, VeilError)
