from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from veil.attestation.api import (
    detect_tee,
    get_verification_result,
    parse_quote_info,
    verify_attestation,
)
from veil.attestation.collateral import load_collateral
from veil.attestation.errors import QuoteFormatError, QuoteVerificationError
from veil.attestation.policy import default_policy
from veil.attestation.result import Tee
from veil.attestation.simulated import SimulationRoot, issue_simulated_quote

NOW = datetime(2025, 6, 26, 22, 7, 51, tzinfo=UTC)
ROOT = SimulationRoot.generate()
SIMULATED = issue_simulated_quote(
    ROOT,
    measurement=bytes(48),
    image=bytes(48),
    report_data=bytes(64),
    platform_id=bytes(16),
    now=NOW,
)
SGX_QUOTE = "phala-dcap-qvl/sgx_quote"
SGX_BUNDLE = "_assembled/phala_dcap_qvl_sgx_quote/collateral.json"


def test_detect_tee(vectors_dir: Path) -> None:
    assert detect_tee(SIMULATED) is Tee.SIMULATED
    assert detect_tee((vectors_dir / SGX_QUOTE).read_bytes()) is Tee.SGX
    assert detect_tee((vectors_dir / "phala-dcap-qvl/tdx_quote").read_bytes()) is Tee.TDX
    with pytest.raises(QuoteFormatError):
        detect_tee(b"VEILSIM\0" + b"\0" * 10)
    with pytest.raises(QuoteFormatError):
        detect_tee(b"")


def test_one_entry_point_for_simulated_and_hardware(vectors_dir: Path) -> None:
    simulated = verify_attestation(
        SIMULATED, collateral=None, simulation_root_public_key=ROOT.public_key_bytes(), now=NOW
    )
    assert simulated.tee is Tee.SIMULATED
    hardware = verify_attestation(
        (vectors_dir / SGX_QUOTE).read_bytes(),
        collateral=load_collateral((vectors_dir / SGX_BUNDLE).read_bytes()),
        simulation_root_public_key=None,
        now=NOW,
    )
    assert hardware.tee is Tee.SGX
    assert hardware.tcb_status == "ConfigurationAndSWHardeningNeeded"


def test_missing_trust_inputs_are_verification_errors(vectors_dir: Path) -> None:
    with pytest.raises(QuoteVerificationError, match=r"step S0: .*simulation root public key"):
        verify_attestation(SIMULATED, collateral=None, simulation_root_public_key=None, now=NOW)
    with pytest.raises(QuoteVerificationError, match=r"step 0: .*needs collateral"):
        verify_attestation(
            (vectors_dir / SGX_QUOTE).read_bytes(),
            collateral=None,
            simulation_root_public_key=ROOT.public_key_bytes(),
            now=NOW,
        )


def test_report_on_policy_refusal_keeps_the_verified_facts(vectors_dir: Path) -> None:
    result = get_verification_result(
        (vectors_dir / SGX_QUOTE).read_bytes(),
        policy=default_policy(),
        collateral=load_collateral((vectors_dir / SGX_BUNDLE).read_bytes()),
        simulation_root_public_key=None,
        now=NOW,
    )
    report = result.to_json()
    assert report["verified"] is False
    assert report["tcb_status"] == "ConfigurationAndSWHardeningNeeded"
    assert report["advisory_ids"] == ["INTEL-SA-00289", "INTEL-SA-00615"]
    assert report["error"].startswith("policy rule tcb_status")
    assert report["fmspc"] == "00A067110000"


def test_report_on_verification_failure_keeps_the_parsed_facts(vectors_dir: Path) -> None:
    quote = bytearray((vectors_dir / SGX_QUOTE).read_bytes())
    quote[112] ^= 1  # MRENCLAVE: breaks the quote signature
    result = get_verification_result(
        bytes(quote),
        policy=default_policy(),
        collateral=load_collateral((vectors_dir / SGX_BUNDLE).read_bytes()),
        simulation_root_public_key=None,
        now=NOW,
    )
    assert result.verified is False
    assert result.tcb_status is None
    assert result.tee is Tee.SGX
    assert (
        result.measurements["mr_enclave"]
        == parse_quote_info(bytes(quote)).measurements["mr_enclave"]
    )
    assert result.error is not None
    assert result.error.startswith("step ")


def test_report_success_for_simulated_has_no_tcb_status() -> None:
    result = get_verification_result(
        SIMULATED,
        policy=default_policy(allow_simulated_insecure=True),
        collateral=None,
        simulation_root_public_key=ROOT.public_key_bytes(),
        now=NOW,
    )
    assert result.verified is True
    assert result.to_json()["tcb_status"] is None
    assert "error" not in result.to_json()
