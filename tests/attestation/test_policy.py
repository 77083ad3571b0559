from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from veil.attestation.errors import PolicyError
from veil.attestation.policy import (
    AdvisoryIdsIn,
    AllOf,
    ExpectedIdentity,
    IsvProdId,
    MinIsvSvn,
    MrConfigId,
    MrEnclave,
    MrServiceTd,
    MrSigner,
    MrTd,
    NotDebug,
    NotSimulated,
    Rtmr,
    SimulatedMeasurement,
    TcbStatusIn,
    TdAttributes,
    TeeIn,
    default_policy,
)
from veil.attestation.quote import measurements_of, parse_quote
from veil.attestation.result import TcbStatus, Tee, VerifiedQuote

NOW = datetime(2025, 6, 27, tzinfo=UTC)
MRENCLAVE = bytes.fromhex("33" * 32)
MRSIGNER = bytes.fromhex("81" * 32)
# TD_ATTRIBUTES with only SEPT_VE_DISABLE (bit 28) set, little-endian as in the quote.
TD_ATTR_OK = (1 << 28).to_bytes(8, "little").hex()


def sgx(
    *,
    status: TcbStatus = TcbStatus.UP_TO_DATE,
    debug: bool = False,
    advisories: tuple[str, ...] = (),
    isv_svn: int = 3,
) -> VerifiedQuote:
    return VerifiedQuote(
        tee=Tee.SGX,
        version=3,
        tcb_status=status,
        advisory_ids=advisories,
        measurements={
            "mr_enclave": MRENCLAVE.hex(),
            "mr_signer": MRSIGNER.hex(),
            "isv_prod_id": "7",
            "isv_svn": str(isv_svn),
        },
        report_data=bytes(64),
        debug=debug,
        fmspc="00A067110000",
        verified_at=NOW,
    )


def tdx(*, td_attributes: str = TD_ATTR_OK, mr_service_td: str | None = None) -> VerifiedQuote:
    measurements = {
        "mr_td": "aa" * 48,
        "rtmr0": "00" * 48,
        "rtmr1": "01" * 48,
        "rtmr2": "02" * 48,
        "rtmr3": "03" * 48,
        "mr_config_id": "00" * 48,
        "td_attributes": td_attributes,
    }
    if mr_service_td is not None:
        measurements["mr_service_td"] = mr_service_td
    return VerifiedQuote(
        tee=Tee.TDX,
        version=4,
        tcb_status=TcbStatus.UP_TO_DATE,
        measurements=measurements,
        report_data=bytes(64),
        debug=bool(bytes.fromhex(td_attributes)[0] & 1),
        fmspc="B0C06F000000",
        verified_at=NOW,
    )


def simulated(*, debug: bool = False) -> VerifiedQuote:
    return VerifiedQuote(
        tee=Tee.SIMULATED,
        version=1,
        tcb_status=TcbStatus.UP_TO_DATE,
        measurements={"measurement": "5a" * 48},
        report_data=bytes(64),
        debug=debug,
        verified_at=NOW,
    )


def parsed(path: Path, *, status: TcbStatus = TcbStatus.UP_TO_DATE) -> VerifiedQuote:
    """A VerifiedQuote built from a real quote's parsed fields (the policy sees only these)."""
    quote = parse_quote(path.read_bytes())
    return VerifiedQuote(
        tee=quote.tee,
        version=quote.header.version,
        tcb_status=status,
        measurements=measurements_of(quote),
        report_data=quote.report_data,
        debug=quote.body.is_debug,
        verified_at=NOW,
    )


def test_default_policy_accepts_an_up_to_date_production_quote() -> None:
    default_policy().check(sgx())
    default_policy().check(tdx())
    default_policy(expected=ExpectedIdentity(mr_enclave=MRENCLAVE, mr_signer=MRSIGNER)).check(sgx())


def test_empty_all_of_fails_closed() -> None:
    with pytest.raises(PolicyError, match="policy rule all_of: empty policy"):
        AllOf().check(sgx())


def test_all_of_stops_at_the_first_refusal() -> None:
    with pytest.raises(PolicyError) as exc:
        AllOf(NotSimulated(), MrEnclave(bytes(32)), NotDebug()).check(sgx(debug=True))
    assert exc.value.rule == "mr_enclave"


def test_simulated_refused_by_default_and_accepted_only_insecurely(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(PolicyError, match="policy rule simulated: evidence is simulated"):
        default_policy().check(simulated())
    with caplog.at_level(logging.WARNING):
        policy = default_policy(allow_simulated_insecure=True)
    assert "allow_simulated_insecure" in caplog.text
    policy.check(simulated())


def test_debug_refused_by_default_and_accepted_only_insecurely(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(PolicyError, match="policy rule debug: sgx enclave runs in debug mode"):
        default_policy().check(sgx(debug=True))
    with pytest.raises(PolicyError, match="rule debug"):
        default_policy(allow_simulated_insecure=True).check(simulated(debug=True))
    with caplog.at_level(logging.WARNING):
        policy = default_policy(allow_debug_insecure=True)
    assert "INSECURE" in caplog.text
    policy.check(sgx(debug=True))


@pytest.mark.parametrize("status", [s for s in TcbStatus if s is not TcbStatus.UP_TO_DATE], ids=str)
def test_only_up_to_date_by_default(status: TcbStatus) -> None:
    with pytest.raises(PolicyError, match=f"policy rule tcb_status: TCB status is {status}"):
        default_policy().check(sgx(status=status))


def test_other_statuses_are_allowed_explicitly() -> None:
    policy = default_policy(allow_tcb_statuses=["UpToDate", TcbStatus.OUT_OF_DATE])
    policy.check(sgx(status=TcbStatus.OUT_OF_DATE, advisories=("INTEL-SA-00615",)))
    with pytest.raises(PolicyError, match="SWHardeningNeeded"):
        policy.check(sgx(status=TcbStatus.SW_HARDENING_NEEDED))


def test_revoked_can_never_be_allowed() -> None:
    with pytest.raises(ValueError, match="Revoked"):
        TcbStatusIn(frozenset({TcbStatus.REVOKED}))
    with pytest.raises(ValueError, match="Revoked"):
        default_policy(allow_tcb_statuses=["Revoked"])


def test_advisory_ids_pinned() -> None:
    policy = default_policy(
        allow_tcb_statuses=[TcbStatus.SW_HARDENING_NEEDED], allow_advisory_ids=["INTEL-SA-00615"]
    )
    policy.check(sgx(status=TcbStatus.SW_HARDENING_NEEDED, advisories=("INTEL-SA-00615",)))
    with pytest.raises(PolicyError, match="advisories not allowed: INTEL-SA-00289"):
        policy.check(
            sgx(
                status=TcbStatus.SW_HARDENING_NEEDED,
                advisories=("INTEL-SA-00289", "INTEL-SA-00615"),
            )
        )
    with pytest.raises(PolicyError, match="advisory_ids"):
        AdvisoryIdsIn(frozenset()).check(sgx(advisories=("INTEL-SA-00001",)))


def test_wrong_mrenclave_names_rule_and_values() -> None:
    with pytest.raises(PolicyError) as exc:
        MrEnclave(bytes(32)).check(sgx())
    assert exc.value.rule == "mr_enclave"
    assert str(exc.value) == (
        f"policy rule mr_enclave: expected {'00' * 32}, got {MRENCLAVE.hex()}"
    )


def test_sgx_identity_rules() -> None:
    MrSigner(MRSIGNER).check(sgx())
    IsvProdId(7).check(sgx())
    MinIsvSvn(3).check(sgx())
    with pytest.raises(PolicyError, match="rule mr_signer"):
        MrSigner(MRENCLAVE).check(sgx())
    with pytest.raises(PolicyError, match="rule isv_prod_id: expected 8, got 7"):
        IsvProdId(8).check(sgx())
    with pytest.raises(PolicyError, match="ISVSVN 2 is below the minimum 3"):
        MinIsvSvn(3).check(sgx(isv_svn=2))


def test_measurement_rule_of_another_tee_refuses() -> None:
    with pytest.raises(PolicyError, match="applies to sgx quotes, got a tdx quote"):
        MrEnclave(MRENCLAVE).check(tdx())
    with pytest.raises(PolicyError, match="applies to tdx quotes"):
        MrTd(bytes(48)).check(sgx())
    with pytest.raises(PolicyError, match="applies to simulated"):
        SimulatedMeasurement(bytes(48)).check(sgx())


def test_tdx_identity_rules() -> None:
    MrTd(bytes.fromhex("aa" * 48)).check(tdx())
    Rtmr(2, bytes.fromhex("02" * 48)).check(tdx())
    MrConfigId(bytes(48)).check(tdx())
    with pytest.raises(PolicyError, match="rule rtmr3: expected"):
        Rtmr(3, bytes(48)).check(tdx())
    with pytest.raises(PolicyError, match="rule mr_td"):
        MrTd(bytes(48)).check(tdx())


def test_simulated_measurement_rule() -> None:
    SimulatedMeasurement(bytes.fromhex("5a" * 48)).check(simulated())
    with pytest.raises(PolicyError, match="rule measurement"):
        SimulatedMeasurement(bytes(48)).check(simulated())


def test_tee_in() -> None:
    TeeIn(frozenset({Tee.SGX})).check(sgx())
    with pytest.raises(PolicyError, match="quote is from tdx; allowed: sgx"):
        TeeIn(frozenset({Tee.SGX})).check(tdx())


def test_expected_identity_refuses_mixed_tees_and_bad_sizes() -> None:
    with pytest.raises(ValueError, match="more than one TEE"):
        ExpectedIdentity(mr_enclave=MRENCLAVE, mr_td=bytes(48)).policies()
    with pytest.raises(ValueError, match="32 bytes"):
        MrEnclave(bytes(48))
    with pytest.raises(ValueError, match="RTMR index"):
        Rtmr(4, bytes(48))


def test_td_debug_bits_refused() -> None:
    debug_attrs = ((1 << 28) | 1).to_bytes(8, "little").hex()
    with pytest.raises(PolicyError, match="rule debug"):
        default_policy().check(tdx(td_attributes=debug_attrs))
    with pytest.raises(PolicyError, match="TD debug bits are set"):
        TdAttributes().check(tdx(td_attributes=debug_attrs))
    # Any TUD bit counts as debug, not only bit 0.
    with pytest.raises(PolicyError, match="TD debug bits"):
        TdAttributes().check(tdx(td_attributes=((1 << 28) | 2).to_bytes(8, "little").hex()))
    TdAttributes(allow_debug_insecure=True).check(tdx(td_attributes=debug_attrs))


@pytest.mark.parametrize("bit", [8, 27, 29, 32, 62], ids=lambda b: f"bit{b}")
def test_td_reserved_bits_refused(bit: int) -> None:
    attrs = ((1 << 28) | (1 << bit)).to_bytes(8, "little").hex()
    with pytest.raises(PolicyError, match="reserved TD_ATTRIBUTES bits"):
        TdAttributes().check(tdx(td_attributes=attrs))


@pytest.mark.parametrize("bit", [30, 31, 63], ids=["pks", "kl", "perfmon"])
def test_td_feature_bits_allowed(bit: int) -> None:
    TdAttributes().check(tdx(td_attributes=((1 << 28) | (1 << bit)).to_bytes(8, "little").hex()))


def test_sept_ve_disable_required() -> None:
    with pytest.raises(PolicyError, match="SEPT_VE_DISABLE is not set"):
        default_policy().check(tdx(td_attributes="00" * 8))
    default_policy(allow_sept_ve_insecure=True).check(tdx(td_attributes="00" * 8))


def test_mr_service_td_must_be_zero_unless_pinned() -> None:
    default_policy().check(tdx(mr_service_td="00" * 48))
    with pytest.raises(PolicyError, match="policy rule mr_service_td: expected 0000"):
        default_policy().check(tdx(mr_service_td="11" * 48))
    MrServiceTd(bytes.fromhex("11" * 48)).check(tdx(mr_service_td="11" * 48))
    with pytest.raises(PolicyError, match="mr_service_td"):
        MrServiceTd(bytes.fromhex("11" * 48)).check(tdx())


# --- real quotes: the policy sees the same fields the verifier reports -------------------------


def test_real_azure_td_without_sept_ve_disable_refused(vectors_dir: Path) -> None:
    verified = parsed(vectors_dir / "coco-trustee/az-tdx-vtpm/td-quote.bin")
    with pytest.raises(PolicyError, match="SEPT_VE_DISABLE"):
        default_policy().check(verified)
    default_policy(allow_sept_ve_insecure=True).check(verified)


def test_real_td15_with_service_td_refused(vectors_dir: Path) -> None:
    verified = parsed(
        vectors_dir / "automata-dcap-attestation/evm-forge-test-assets/quotes/alibaba_quote_5.dat"
    )
    with pytest.raises(PolicyError, match="rule mr_service_td"):
        default_policy().check(verified)


@pytest.mark.parametrize(
    "name",
    ["automata-dcap-attestation/solana-tests-data/quote_sgx.bin", "coco-trustee/tdx_quote_4.dat"],
)
def test_real_debug_quotes_refused(vectors_dir: Path, name: str) -> None:
    verified = parsed(vectors_dir / name)
    assert verified.debug
    with pytest.raises(PolicyError, match="rule debug"):
        default_policy().check(verified)


def test_real_production_td_accepted(vectors_dir: Path) -> None:
    verified = parsed(vectors_dir / "google-go-tdx-guest/ccel/cos-113-tdx-quote.dat")
    default_policy(expected=[MrTd(bytes.fromhex(verified.measurements["mr_td"]))]).check(verified)
