"""DCAP verification of real hardware quotes: every bundle's verdict, and the negative table.

Expected values come from the vectors README (§A, §B: dcap-qvl 0.7.0's verdicts) and are
written out here, so a change in behaviour shows up as a failing row.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.attestation.dcap_bundles import NOT_REDISTRIBUTED, Bundle, read_quote
from veil.attestation.collateral import Collateral
from veil.attestation.errors import (
    CollateralExpiredError,
    PolicyError,
    QuoteFormatError,
    QuoteVerificationError,
)
from veil.attestation.policy import default_policy
from veil.attestation.quote import parse_quote
from veil.attestation.result import TcbStatus, Tee
from veil.attestation.verifier import VerifyOptions, verify_collateral, verify_quote

# Instant used for the two base vectors of the negative table (README §E).
S_T_NOW = datetime.fromtimestamp(1751000000, UTC)
ALL_STATUSES = [status for status in TcbStatus if status is not TcbStatus.REVOKED]


@pytest.fixture(scope="module")
def s_quote(vectors_dir: Path) -> bytes:
    return (vectors_dir / "phala-dcap-qvl" / "sgx_quote").read_bytes()


@pytest.fixture(scope="module")
def s_collateral(vectors_dir: Path) -> Collateral:
    return Collateral.from_dcap_qvl_json(
        (vectors_dir / "phala-dcap-qvl" / "sgx_quote_collateral.json").read_bytes()
    )


@pytest.fixture(scope="module")
def t_quote(vectors_dir: Path) -> bytes:
    return (vectors_dir / "phala-dcap-qvl" / "tdx_quote").read_bytes()


@pytest.fixture(scope="module")
def t_collateral(vectors_dir: Path) -> Collateral:
    return Collateral.from_dcap_qvl_json(
        (vectors_dir / "phala-dcap-qvl" / "tdx_quote_collateral.json").read_bytes()
    )


Bases = tuple[tuple[bytes, Collateral], tuple[bytes, Collateral]]


@pytest.fixture(scope="module")
def bases(
    s_quote: bytes, s_collateral: Collateral, t_quote: bytes, t_collateral: Collateral
) -> Bases:
    """The negative table's base vectors S (SGX) and T (TDX), each with its collateral."""
    return (s_quote, s_collateral), (t_quote, t_collateral)


def _refused(quote: bytes, collateral: Collateral, now: datetime, step: str) -> str:
    with pytest.raises(QuoteVerificationError) as caught:
        verify_quote(quote, collateral, now=now)
    assert caught.value.step == step, str(caught.value)
    assert str(caught.value).startswith(f"step {step}: ")
    return str(caught.value)


def _signed_prefix_of_v4_tdx_quote(quote: bytes) -> bytes:
    """Header (48) + TD report 1.0 (584) + u32 signature data length + signature data."""
    size = int.from_bytes(quote[632:636], "little")
    return quote[: 636 + size]


def _with(collateral: Collateral, field: str, value: bytes) -> Collateral:
    changes: dict[str, Any] = {field: value}
    return dataclasses.replace(collateral, **changes)


def _flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


# ----- §B: every assembled bundle -------------------------------------------------------------

ACCEPTED = {
    # id: (TEE, version, status, advisories, debug)
    "automata_dcap_attestation_rust_crates_samples_quotev3_hex": (
        Tee.SGX, 3, "SWHardeningNeeded", ("INTEL-SA-00615",), False),
    "automata_dcap_attestation_rust_crates_samples_quotev4_hex": (
        Tee.TDX, 4, "OutOfDate", ("INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"), False),
    "coco_trustee_tdx_quote_6_dat": (Tee.TDX, 4, "OutOfDate", (), False),
    "cosmian_enclave_ratls_quote_extracted_bin": (
        Tee.SGX, 3, "OutOfDate",
        ("INTEL-SA-00586", "INTEL-SA-00614", "INTEL-SA-00615", "INTEL-SA-00657",
         "INTEL-SA-00730", "INTEL-SA-00738", "INTEL-SA-00767"), False),
    "cosmian_intel_sgx_ra_quote_dat": (
        Tee.SGX, 3, "OutOfDate",
        ("INTEL-SA-00657", "INTEL-SA-00730", "INTEL-SA-00738", "INTEL-SA-00767",
         "INTEL-SA-00615"), False),
    "google_go_tdx_guest_ccel_cos_113_tdx_quote_dat": (Tee.TDX, 4, "UpToDate", (), False),
    "google_go_tdx_guest_quote_v5_sample_dat": (Tee.TDX, 5, "UpToDate", (), False),
    "phala_dcap_qvl_near_gas_test_quote_hex_txt": (Tee.TDX, 4, "UpToDate", (), False),
    "phala_dcap_qvl_sgx_quote": (
        Tee.SGX, 3, "ConfigurationAndSWHardeningNeeded",
        ("INTEL-SA-00289", "INTEL-SA-00615"), False),
    "phala_dcap_qvl_sdist_0_7_0_tdx_quote_td15ex": (Tee.TDX, 5, "UpToDate", (), False),
    # dcap-qvl refuses the next four by attribute *policy* after all its checks passed; the
    # verifier reports the facts and veil's default policy refuses (see test below).
    "automata_dcap_attestation_evm_forge_test_assets_quotes_alibaba_quote_5_dat": (
        Tee.TDX, 5, "UpToDate", (), False),
    "automata_dcap_attestation_solana_tests_data_quote_sgx_bin": (
        Tee.SGX, 3, "ConfigurationAndSWHardeningNeeded",
        ("INTEL-SA-00289", "INTEL-SA-00615"), True),
    "coco_trustee_az_tdx_vtpm_td_quote_bin": (
        Tee.TDX, 4, "OutOfDate", ("INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"), False),
    "coco_trustee_tdx_quote_4_dat": (
        Tee.TDX, 4, "OutOfDate",
        ("INTEL-SA-00837", "INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"), True),
    # Deliberate difference: dcap-qvl 0.7.0 cannot parse TCB Info v2 ("missing field
    # sgxtcbcomponents"); veil reads v2, and this (debug) quote verifies against it.
    "coco_trustee_occlum_quote_dat": (Tee.SGX, 3, "OutOfDate", (), True),
}  # fmt: skip

NO_MATCHING_TCB_LEVEL = (
    "automata_dcap_attestation_evm_forge_test_assets_quotes_tdx_quote_5_dat",
    "phala_dcap_qvl_tdx_quote_outdated",
)


@pytest.mark.parametrize("bundle_id", sorted(ACCEPTED))
def test_real_bundle_verifies_with_the_expected_status(bundle: Bundle, bundle_id: str) -> None:
    tee, version, status, advisories, debug = ACCEPTED[bundle_id]
    verified = verify_quote(bundle.quote, bundle.collateral, now=bundle.now)
    assert (verified.tee, verified.version) == (tee, version)
    assert verified.tcb_status == TcbStatus(status)
    assert verified.advisory_ids == advisories
    assert verified.debug is debug
    assert verified.collateral_expired is False
    assert verified.verified_at == bundle.now
    assert verified.report_data == parse_quote(bundle.quote).report_data
    if bundle.qvl_verdict == "ACCEPT":
        assert (verified.tcb_status.value, verified.advisory_ids) == (
            bundle.qvl_status,
            bundle.qvl_advisory_ids,
        )


EXPECTED = {*ACCEPTED, *NO_MATCHING_TCB_LEVEL, "google_go_tdx_guest_tdx_prod_quote_SPR_E4_dat"}


def test_every_shipped_bundle_has_an_expectation(bundles: dict[str, Bundle]) -> None:
    assert set(bundles) == EXPECTED - NOT_REDISTRIBUTED
    assert NOT_REDISTRIBUTED <= EXPECTED


def test_every_shared_bundle_has_an_expectation(shared_bundles: dict[str, Bundle]) -> None:
    assert set(shared_bundles) == EXPECTED


def test_shipped_bundles_are_the_shared_ones(
    bundles: dict[str, Bundle], shared_bundles: dict[str, Bundle]
) -> None:
    """tests/vectors is a byte-for-byte copy of part of the shared vectors."""
    for bundle_id, bundle in bundles.items():
        assert bundle == shared_bundles[bundle_id], bundle_id


@pytest.mark.parametrize("bundle_id", NO_MATCHING_TCB_LEVEL)
def test_real_bundle_without_a_matching_tcb_level_is_refused(
    bundle: Bundle, bundle_id: str
) -> None:
    assert bundle.qvl_error is not None
    assert "No matching TCB level" in bundle.qvl_error
    _refused(bundle.quote, bundle.collateral, bundle.now, "9.2")


def test_spr_e4_quote_with_trailing_text_is_a_format_error_and_its_tcb_does_not_match(
    shared_bundles: dict[str, Bundle],
) -> None:
    bundle = shared_bundles["google_go_tdx_guest_tdx_prod_quote_SPR_E4_dat"]
    # The file carries "extra bytes(only for testing purpose)" after the signature data:
    # unauthenticated bytes, refused by the parser (dcap-qvl ignores them).
    with pytest.raises(QuoteFormatError):
        verify_quote(bundle.quote, bundle.collateral, now=bundle.now)
    _refused(_signed_prefix_of_v4_tdx_quote(bundle.quote), bundle.collateral, bundle.now, "9.2")


@pytest.mark.parametrize(
    ("bundle_id", "reason"),
    [
        ("automata_dcap_attestation_solana_tests_data_quote_sgx_bin", "debug"),
        ("coco_trustee_tdx_quote_4_dat", "debug"),
        ("coco_trustee_az_tdx_vtpm_td_quote_bin", "sept_ve"),
        ("automata_dcap_attestation_evm_forge_test_assets_quotes_alibaba_quote_5_dat", "svc"),
    ],
)
def test_attribute_rejects_are_the_policys_job_not_the_verifiers(
    bundle: Bundle, bundle_id: str, reason: str
) -> None:
    """Layering: the verifier returns the facts; the default policy refuses them."""
    assert bundle.qvl_verdict == "REJECT"
    verified = verify_quote(bundle.quote, bundle.collateral, now=bundle.now)
    if reason == "debug":
        assert verified.debug is True
    elif reason == "svc":
        assert int(verified.measurements["mr_service_td"], 16) != 0
    else:
        assert not int.from_bytes(
            bytes.fromhex(verified.measurements["td_attributes"]), "little"
        ) & (1 << 28)
    with pytest.raises(PolicyError):
        default_policy(allow_tcb_statuses=ALL_STATUSES).check(verified)


# ----- §A: bundles shipped with their own collateral -------------------------------------------


def test_section_a_sgx_quote_with_its_own_collateral(
    s_quote: bytes, s_collateral: Collateral
) -> None:
    verified = verify_quote(s_quote, s_collateral, now=S_T_NOW)
    assert verified.tcb_status is TcbStatus.CONFIGURATION_AND_SW_HARDENING_NEEDED
    assert verified.advisory_ids == ("INTEL-SA-00289", "INTEL-SA-00615")
    assert verified.fmspc == "00A067110000"
    assert verified.report_data.startswith(b"Hello, world!")
    assert verified.measurements["mr_enclave"].startswith("33d8736d")


def test_section_a_tdx_quote_with_its_own_collateral(
    t_quote: bytes, t_collateral: Collateral
) -> None:
    verified = verify_quote(t_quote, t_collateral, now=S_T_NOW)
    assert (verified.tee, verified.tcb_status, verified.advisory_ids) == (
        Tee.TDX,
        TcbStatus.UP_TO_DATE,
        (),
    )


def test_section_a_td15ex_quote_is_up_to_date_then_expires(vectors_dir: Path) -> None:
    folder = vectors_dir / "phala-dcap-qvl" / "sdist-0.7.0"
    quote = (folder / "tdx_quote_td15ex").read_bytes()
    collateral = Collateral.from_dcap_qvl_json(
        (folder / "tdx_quote_td15ex_collateral.json").read_bytes()
    )
    verified = verify_quote(quote, collateral, now=datetime(2026, 10, 20, tzinfo=UTC))
    assert verified.tcb_status is TcbStatus.UP_TO_DATE
    with pytest.raises(CollateralExpiredError):
        verify_quote(quote, collateral, now=datetime(2026, 11, 21, tzinfo=UTC))


def test_section_a_outdated_v5_quote_with_its_own_collateral_has_no_tcb_level(
    vectors_dir: Path,
) -> None:
    folder = vectors_dir / "phala-dcap-qvl"
    collateral = Collateral.from_dcap_qvl_json(
        (folder / "tdx_quote_outdated_collateral.json").read_bytes()
    )
    now = datetime(2026, 3, 1, tzinfo=UTC)
    _refused((folder / "tdx_quote_outdated").read_bytes(), collateral, now, "9.2")


def test_section_a_cosmian_evidence_has_no_consistent_instant(shared_vectors_dir: Path) -> None:
    folder = shared_vectors_dir / "cosmian-enclave"
    quote = (folder / "ratls_quote_extracted.bin").read_bytes()
    collateral = Collateral.from_dcap_qvl_json(
        (folder / "collateral_dcapqvl_format.json").read_bytes()
    )
    with pytest.raises(CollateralExpiredError) as late:  # its PCK CRL expired 2023-06-15
        verify_quote(quote, collateral, now=datetime(2023, 6, 20, 12, tzinfo=UTC))
    assert late.value.step == "2.7"
    with pytest.raises(CollateralExpiredError) as early:  # QE identity issued 2023-06-20
        verify_quote(quote, collateral, now=datetime(2023, 6, 15, tzinfo=UTC))
    assert early.value.step == "6.8"


# ----- §E: the negative table --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "s_offset", "t_offset", "step"),
    [
        ("N1 header user_data[0]", 28, 28, "5.1"),
        ("N2 first body byte", 48, 48, "5.1"),
        ("N3 MRENCLAVE[0] / MRTD", 112, 184, "5.1"),
        ("N4 REPORTDATA[0]", 368, 568, "5.1"),
        ("N5 quote signature r[0]", 436, 636, "5.1"),
        ("N6 attestation key x[0]", 500, 700, "4.1"),
        ("N7 QE report CPUSVN[0]", 564, 770, "3.1"),
        ("N7 QE report MRSIGNER[0]", 692, 898, "3.1"),
        ("N7 QE report REPORTDATA[0]", 884, 1090, "3.1"),
        ("N8 QE report signature r[0]", 948, 1154, "3.1"),
        ("N9 QE auth data[0]", 1014, 1220, "4.1"),
    ],
)
def test_negative_quote_byte_flips(
    name: str, s_offset: int, t_offset: int, step: str, bases: Bases
) -> None:
    (s_quote, s_collateral), (t_quote, t_collateral) = bases
    _refused(_flip(s_quote, s_offset), s_collateral, S_T_NOW, step)
    _refused(_flip(t_quote, t_offset), t_collateral, S_T_NOW, step)


def _replace_base64_char(quote: bytes, offset: int) -> bytes:
    assert chr(quote[offset]).isalnum()
    replacement = b"B" if quote[offset : offset + 1] == b"A" else b"A"
    return quote[:offset] + replacement + quote[offset + 1 :]


def test_n10_pck_leaf_pem_character(
    s_quote: bytes, s_collateral: Collateral, t_quote: bytes, t_collateral: Collateral
) -> None:
    # The changed DER no longer parses: step 2.1 (dcap-qvl: "UnknownIssuer").
    _refused(_replace_base64_char(s_quote, 1280), s_collateral, S_T_NOW, "2.1")
    _refused(_replace_base64_char(t_quote, 1486), t_collateral, S_T_NOW, "2.1")


def test_n11_tcb_info_issue_date_changed(s_quote: bytes, s_collateral: Collateral) -> None:
    tampered = s_collateral.tcb_info.replace(
        b'"issueDate":"2025-06-19T1', b'"issueDate":"2025-06-18T1'
    )
    assert tampered != s_collateral.tcb_info
    _refused(s_quote, dataclasses.replace(s_collateral, tcb_info=tampered), S_T_NOW, "6.2")


def test_n11_tcb_evaluation_data_number_changed(s_quote: bytes, s_collateral: Collateral) -> None:
    tampered = s_collateral.tcb_info.replace(
        b'"tcbEvaluationDataNumber":17', b'"tcbEvaluationDataNumber":18'
    )
    assert tampered != s_collateral.tcb_info
    _refused(s_quote, dataclasses.replace(s_collateral, tcb_info=tampered), S_T_NOW, "6.2")


def test_n12_qe_identity_reserialised_with_one_space(
    s_quote: bytes, s_collateral: Collateral
) -> None:
    tampered = s_collateral.qe_identity.replace(b'"isvprodid":', b'"isvprodid": ')
    assert tampered != s_collateral.qe_identity
    _refused(s_quote, dataclasses.replace(s_collateral, qe_identity=tampered), S_T_NOW, "6.6")


@pytest.mark.parametrize(
    ("field", "step"), [("tcb_info_signature", "6.2"), ("qe_identity_signature", "6.6")]
)
def test_n13_signed_json_signature_first_nibble(
    s_quote: bytes, s_collateral: Collateral, field: str, step: str
) -> None:
    tampered = _flip(getattr(s_collateral, field), 0, 0x10)
    _refused(s_quote, _with(s_collateral, field, tampered), S_T_NOW, step)


@pytest.mark.parametrize(("field", "step"), [("pck_crl", "2.6"), ("root_ca_crl", "2.5")])
def test_n14_crl_last_byte(s_quote: bytes, s_collateral: Collateral, field: str, step: str) -> None:
    crl = getattr(s_collateral, field)
    tampered = _flip(crl, len(crl) - 1)
    _refused(s_quote, _with(s_collateral, field, tampered), S_T_NOW, step)


def test_n15_tcb_info_expired(s_quote: bytes, s_collateral: Collateral) -> None:
    now = datetime(2025, 7, 19, 10, 56, 12, tzinfo=UTC)  # tcbInfo nextUpdate + 1 s
    with pytest.raises(CollateralExpiredError) as caught:
        verify_quote(s_quote, s_collateral, now=now)
    assert caught.value.step == "6.4"
    assert "TCB info" in str(caught.value)


def test_n16_qe_identity_issued_in_the_future(t_quote: bytes, t_collateral: Collateral) -> None:
    now = datetime(2025, 6, 19, 10, 32, 26, tzinfo=UTC)  # QE identity issueDate − 1 s
    with pytest.raises(CollateralExpiredError) as caught:
        verify_quote(t_quote, t_collateral, now=now)
    assert caught.value.step == "6.8"


def test_n17_far_future_expires_the_crls_first(s_quote: bytes, s_collateral: Collateral) -> None:
    with pytest.raises(CollateralExpiredError) as caught:
        verify_quote(s_quote, s_collateral, now=datetime(2053, 7, 1, tzinfo=UTC))
    assert caught.value.step == "2.7"


def test_n18_collateral_of_another_fmspc(t_quote: bytes, vectors_dir: Path) -> None:
    other = Collateral.from_dcap_qvl_json(
        (vectors_dir / "phala-dcap-qvl" / "near-gas-test" / "quote_collateral.json").read_bytes()
    )
    message = _refused(t_quote, other, datetime(2025, 9, 8, tzinfo=UTC), "7.1")
    assert "FMSPC mismatch" in message


def test_n18_collateral_of_another_tee(s_quote: bytes, t_collateral: Collateral) -> None:
    # The TDX collateral's PCK CRL is the Platform CA's; this SGX quote's PCK is issued by the
    # Processor CA, so its revocation cannot be checked (step 2.8, before the TEE-kind checks
    # 7.3/7.4, which test_pki.py covers with synthetic collateral).
    message = _refused(s_quote, t_collateral, S_T_NOW, "2.8")
    assert "PCK CRL is not issued by the quote's PCK CA" in message


def test_n_root_quote_chaining_to_intels_sandbox_root_is_refused(
    vectors_dir: Path, s_collateral: Collateral
) -> None:
    """Same subject name "Intel SGX Root CA", different key: the pin is on the key."""
    quote = (
        vectors_dir / "bytedance-fedlearner" / "graphene_ratls_quote_extracted.bin"
    ).read_bytes()
    message = _refused(quote, s_collateral, S_T_NOW, "2.2")
    assert "pinned" in message


@pytest.mark.parametrize(
    "bundle_id",
    ["automata_dcap_attestation_solana_tests_data_quote_sgx_bin", "coco_trustee_tdx_quote_4_dat"],
)
def test_n_debug_real_debug_quotes_are_verified_and_flagged(bundle: Bundle) -> None:
    assert verify_quote(bundle.quote, bundle.collateral, now=bundle.now).debug is True


def test_n_tcb_go_tdx_guest_quote_has_no_matching_level(shared_bundles: dict[str, Bundle]) -> None:
    bundle = shared_bundles["google_go_tdx_guest_tdx_prod_quote_SPR_E4_dat"]
    _refused(_signed_prefix_of_v4_tdx_quote(bundle.quote), bundle.collateral, bundle.now, "9.2")


# ----- time, warm path and options ------------------------------------------------------------


def test_expired_collateral_is_refused_by_default_and_flagged_when_allowed_insecurely(
    s_quote: bytes, s_collateral: Collateral, caplog: pytest.LogCaptureFixture
) -> None:
    today = datetime(2026, 11, 21, tzinfo=UTC)
    with pytest.raises(CollateralExpiredError):
        verify_quote(s_quote, s_collateral, now=today)
    options = VerifyOptions(allow_expired_collateral_insecure=True)
    with caplog.at_level(logging.WARNING, logger="veil.attestation.verifier"):
        verified = verify_quote(s_quote, s_collateral, now=today, options=options)
    assert verified.collateral_expired is True
    assert verified.tcb_status is TcbStatus.CONFIGURATION_AND_SW_HARDENING_NEEDED
    assert "INSECURE" in caplog.text


def test_insecure_expiry_option_does_not_weaken_signature_checks(
    s_quote: bytes, s_collateral: Collateral
) -> None:
    options = VerifyOptions(allow_expired_collateral_insecure=True)
    with pytest.raises(QuoteVerificationError) as caught:
        verify_quote(_flip(s_quote, 436), s_collateral, now=datetime(2030, 1, 1, tzinfo=UTC),
                     options=options)  # fmt: skip
    assert caught.value.step == "5.1"


def test_warm_path_gives_the_same_result_and_rechecks_time(
    s_quote: bytes, s_collateral: Collateral
) -> None:
    warm = verify_collateral(s_collateral, now=S_T_NOW)
    assert verify_quote(s_quote, warm, now=S_T_NOW) == verify_quote(
        s_quote, s_collateral, now=S_T_NOW
    )
    assert verify_quote(parse_quote(s_quote), warm, now=S_T_NOW).tcb_status is (
        TcbStatus.CONFIGURATION_AND_SW_HARDENING_NEEDED
    )
    with pytest.raises(CollateralExpiredError):
        verify_quote(s_quote, warm, now=S_T_NOW + timedelta(days=60))


def test_warm_path_still_checks_the_quote(s_quote: bytes, s_collateral: Collateral) -> None:
    warm = verify_collateral(s_collateral, now=S_T_NOW)
    _refused(_flip(s_quote, 948), warm, S_T_NOW, "3.1")  # type: ignore[arg-type]


def test_warm_collateral_is_bound_to_its_trust_anchor(
    s_quote: bytes, s_collateral: Collateral
) -> None:
    warm = verify_collateral(s_collateral, now=S_T_NOW)
    other = bytes.fromhex(
        "04" + "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
        "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
    )
    with pytest.raises(ValueError, match="trust anchor"):
        verify_quote(s_quote, warm, now=S_T_NOW, trust_anchor_for_testing=other)


def test_now_must_be_timezone_aware(s_quote: bytes, s_collateral: Collateral) -> None:
    with pytest.raises(ValueError, match="timezone"):
        verify_quote(s_quote, s_collateral, now=datetime(2025, 6, 27))


def test_quote_given_as_hex_file_is_read_by_the_helper(vectors_dir: Path) -> None:
    quote = read_quote(
        vectors_dir / "automata-dcap-attestation" / "rust-crates-samples" / "quotev3.hex"
    )
    assert parse_quote(quote).header.version == 3
