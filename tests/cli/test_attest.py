from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.attestation.test_sources import FakePcs
from tests.ratls._certs import CLAIMS, NOW, ROOT, simulated_quote_fn
from veil.attestation.collateral import load_collateral
from veil.attestation.evidence import (
    AppIdentity,
    Deployment,
    EvidenceDocument,
    RuntimeIdentity,
    SealingKeyInfo,
)
from veil.attestation.result import Tee
from veil.cli.main import main
from veil.ratls.issue import issue_ratls_certificate

NEAR_QUOTE = "phala-dcap-qvl/near-gas-test/quote_hex.txt"
NEAR_BUNDLE = "_assembled/phala_dcap_qvl_near_gas_test_quote_hex_txt/collateral.json"
NEAR_AT = "2025-09-08T06:41:42Z"
SGX_QUOTE = "phala-dcap-qvl/sgx_quote"
SGX_BUNDLE = "_assembled/phala_dcap_qvl_sgx_quote/collateral.json"
SGX_AT = "2025-06-26T22:07:51Z"
#: Only in the shared vectors (tests/vectors/README.md), as are cosmian-enclave/ and gramine-*.
COSMIAN_BUNDLE = "_assembled/cosmian_enclave_ratls_quote_extracted_bin/collateral.json"
COSMIAN_AT = "2023-06-24T12:34:31Z"


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, dict[str, Any], str]:
    code = main(["attest", "verify", *map(str, argv), "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_hex_tdx_quote_verifies(vectors_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        vectors_dir / NEAR_QUOTE,
        "--collateral",
        vectors_dir / NEAR_BUNDLE,
        "--at",
        NEAR_AT,
    )
    assert code == 0
    assert out["verified"] is True
    assert out["tee"] == "tdx"
    assert out["tcb_status"] == "UpToDate"
    assert out["advisory_ids"] == []
    assert out["input"] == "hex-quote"
    assert {"mr_td", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "report_data"} <= set(out["measurements"])
    assert "error" not in out


def test_expected_mrtd_is_enforced(vectors_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base: list[str | Path] = [
        vectors_dir / NEAR_QUOTE,
        "--collateral",
        vectors_dir / NEAR_BUNDLE,
        "--at",
        NEAR_AT,
    ]
    code, out, _ = _run(capsys, *base)
    mr_td = out["measurements"]["mr_td"]
    code, out, _ = _run(capsys, *base, "--mrtd", mr_td)
    assert code == 0
    code, out, _ = _run(capsys, *base, "--mrtd", "00" * 48)
    assert code == 3
    assert out["verified"] is False
    assert out["error"].startswith("policy rule mr_td: expected 0000")
    assert out["measurements"]["mr_td"] == mr_td


def test_raw_sgx_quote_status_needs_allowing(
    vectors_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base: list[str | Path] = [
        vectors_dir / SGX_QUOTE,
        "--collateral",
        vectors_dir / SGX_BUNDLE,
        "--at",
        SGX_AT,
    ]
    code, out, _ = _run(capsys, *base)
    assert code == 3
    assert out["verified"] is False
    assert out["tee"] == "sgx"
    assert out["tcb_status"] == "ConfigurationAndSWHardeningNeeded"
    assert out["advisory_ids"] == ["INTEL-SA-00289", "INTEL-SA-00615"]
    assert "policy rule tcb_status" in out["error"]
    assert out["measurements"]["mr_enclave"].startswith("33d8736d")
    assert {"mr_signer", "isv_prod_id", "isv_svn", "report_data"} <= set(out["measurements"])
    code, out, _ = _run(capsys, *base, "--allow-tcb", "ConfigurationAndSWHardeningNeeded")
    assert code == 0
    assert out["verified"] is True


def test_wrong_mrenclave_is_refused(vectors_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        vectors_dir / SGX_QUOTE,
        "--collateral",
        vectors_dir / SGX_BUNDLE,
        "--at",
        SGX_AT,
        "--allow-tcb",
        "ConfigurationAndSWHardeningNeeded",
        "--mrenclave",
        "11" * 32,
    )
    assert code == 3
    assert "policy rule mr_enclave" in out["error"]


def test_expired_collateral_is_refused(
    vectors_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        vectors_dir / NEAR_QUOTE,
        "--collateral",
        vectors_dir / NEAR_BUNDLE,
        "--at",
        "2026-11-21T00:00:00Z",
    )
    assert code == 3
    assert out["verified"] is False
    assert out["error"].startswith("step ")
    assert out["tee"] == "tdx"  # still reported from the parsed quote


def test_hardware_quote_without_collateral(
    vectors_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, vectors_dir / NEAR_QUOTE, "--at", NEAR_AT)
    assert code == 3
    assert "needs collateral" in out["error"]


def test_cosmian_certificate_input(
    shared_vectors_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads((shared_vectors_dir / "cosmian-enclave/evidence.json").read_text())
    cert = tmp_path / "cert.pem"
    cert.write_text(document["ratls_certificate"])
    base: list[str | Path] = [
        cert,
        "--collateral",
        shared_vectors_dir / COSMIAN_BUNDLE,
        "--at",
        COSMIAN_AT,
    ]
    code, out, _ = _run(capsys, *base, "--allow-tcb", "OutOfDate")
    assert code == 0
    assert out["input"] == "certificate"
    assert out["ratls_format"] == "cosmian"
    assert out["tcb_status"] == "OutOfDate"
    code, out, _ = _run(capsys, *base)
    assert code == 3
    assert out["tcb_status"] == "OutOfDate"


def test_foreign_evidence_json_is_read_through_its_certificate(
    shared_vectors_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        shared_vectors_dir / "cosmian-enclave/evidence.json",
        "--collateral",
        shared_vectors_dir / COSMIAN_BUNDLE,
        "--at",
        COSMIAN_AT,
        "--allow-tcb",
        "OutOfDate",
    )
    assert code == 0
    assert out["ratls_format"] == "cosmian"


def test_graphene_certificate_is_refused(
    vectors_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        vectors_dir / "bytedance-fedlearner/graphene_ratls_cert.pem",
        "--collateral",
        vectors_dir / SGX_BUNDLE,
        "--at",
        SGX_AT,
    )
    assert code == 3
    assert out["verified"] is False
    assert out["ratls_format"] == "gramine-legacy"
    assert out["debug"] is True
    assert "pinned Intel SGX Root CA" in out["error"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("gramine-ratls-mccoysc/gramine_ratls_cert.pem", "not a parseable X.509 certificate"),
        ("cosmian-enclave/cert.pem", "no attestation"),
    ],
)
def test_bad_certificates_are_format_errors(
    shared_vectors_dir: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    code, out, err = _run(capsys, shared_vectors_dir / name, "--at", COSMIAN_AT)
    assert code == 2
    assert out["verified"] is False
    assert message in out["error"]
    assert "veil: error:" in err


def _simulated_evidence(path: Path) -> None:
    issued = issue_ratls_certificate(
        ec.generate_private_key(ec.SECP256R1()),
        quote_fn=simulated_quote_fn(),
        sealing_public_key=b"K" * 32,
        sealing_suite="x25519",
        sans=["localhost"],
        now=NOW,
        claims=CLAIMS,
    )
    document = EvidenceDocument(
        tee=Tee.SIMULATED,
        ratls_certificate=issued.pem,
        quote=issued.quote,
        collateral=None,
        simulation_root_public_key=ROOT.public_key_bytes(),
        runtime=RuntimeIdentity(version=CLAIMS.runtime_version, digest=CLAIMS.runtime_digest),
        app=AppIdentity(
            name=CLAIMS.app_name,
            fingerprint=CLAIMS.app_fingerprint,
            security_config_digest=CLAIMS.security_config_digest,
        ),
        deployment=Deployment(
            instance_id=CLAIMS.instance_id,
            sans=("localhost",),
            port=CLAIMS.port,
            created_at=CLAIMS.created_at,
            tls_scenario=CLAIMS.tls_scenario,
            tls_pin=CLAIMS.tls_pin,
        ),
        sealing=SealingKeyInfo(public_key=b"K" * 32, suite="x25519"),
    )
    path.write_bytes(document.to_json())


def test_simulated_evidence_refused_then_accepted_insecurely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = tmp_path / "evidence.json"
    _simulated_evidence(evidence)
    at = NOW.isoformat()
    code, out, _ = _run(capsys, evidence, "--at", at)
    assert code == 3
    assert out["tee"] == "simulated"
    assert "policy rule simulated" in out["error"]
    code, out, err = _run(capsys, evidence, "--at", at, "--allow-simulated-insecure")
    assert code == 0
    assert out["verified"] is True
    assert out["tee"] == "simulated"
    assert out["tcb_status"] is None
    assert out["app_fingerprint"] == "sha256:" + "12" * 32
    assert "SIMULATED evidence accepted" in err


def test_at_requires_a_time_zone(vectors_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["attest", "verify", str(vectors_dir / NEAR_QUOTE), "--at", "2025-09-08T06:41:42"])
    assert code == 5
    assert "time zone" in capsys.readouterr().err


def test_human_output(vectors_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "attest",
            "verify",
            str(vectors_dir / NEAR_QUOTE),
            "--collateral",
            str(vectors_dir / NEAR_BUNDLE),
            "--at",
            NEAR_AT,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("verified")
    assert "tcb_status: UpToDate" in out


def test_collateral_fetch_from_a_pccs(
    vectors_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakePcs(load_collateral((vectors_dir / NEAR_BUNDLE).read_bytes()))

    def client(**_: object) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(fake))

    monkeypatch.setattr("veil.attestation.sources.pccs.make_client", client)
    bundle = tmp_path / "bundle.json"
    code = main(
        [
            "attest",
            "collateral",
            "fetch",
            str(vectors_dir / NEAR_QUOTE),
            "-o",
            str(bundle),
            "--pccs-url",
            "https://localhost:8081/sgx/certification/v4/",
            "--at",
            NEAR_AT,
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["fmspc"] == "20A06F000000"
    assert out["tee"] == "tdx"
    assert json.loads(bundle.read_text())["format"] == "veil-collateral"
    assert {r.url.path for r in fake.requests} >= {"/tdx/certification/v4/tcb"}
    code, verified, _ = _run(
        capsys, vectors_dir / NEAR_QUOTE, "--collateral", bundle, "--at", NEAR_AT
    )
    assert code == 0
    assert verified["verified"] is True


def test_console_script(vectors_dir: Path) -> None:
    veil = Path(sys.executable).parent / "veil"
    result = subprocess.run(
        [
            str(veil),
            "attest",
            "verify",
            str(vectors_dir / NEAR_QUOTE),
            "--collateral",
            str(vectors_dir / NEAR_BUNDLE),
            "--at",
            NEAR_AT,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verified"] is True


def test_sniffing(vectors_dir: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from veil.cli.attest._input import InputKind, sniff
    from veil.errors import FormatError

    raw = (vectors_dir / SGX_QUOTE).read_bytes()  # embeds a PEM chain: still a quote
    assert sniff(raw).kind is InputKind.QUOTE
    hex_input = sniff(b"  0x" + raw[:64].hex().encode() + b"\n " + raw[64:].hex().upper().encode())
    assert hex_input.kind is InputKind.HEX_QUOTE
    assert hex_input.data == raw
    pem = (vectors_dir / "bytedance-fedlearner/graphene_ratls_cert.pem").read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    assert sniff(pem).kind is InputKind.CERTIFICATE
    assert sniff(der).kind is InputKind.CERTIFICATE
    with pytest.raises(FormatError, match="neither"):
        sniff(b'{"format": "something-else"}')
    with pytest.raises(FormatError, match="not valid JSON"):
        sniff(b"{broken")
