"""``veil evidence`` collateral: a fake node's evidence carrying a real recorded SGX quote, and a
fake PCCS / Intel PCS (httpx.MockTransport) serving real Intel-signed collateral; no network."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.attestation.test_evidence import DOCUMENT as SIMULATED_DOCUMENT
from tests.attestation.test_sources import SGX_AT, SGX_BUNDLE, SGX_QUOTE, FakePcs
from veil.attestation.collateral import Collateral, load_collateral
from veil.attestation.evidence import EvidenceDocument
from veil.attestation.result import Tee
from veil.attestation.sources import _pcs_api, pccs
from veil.cli import _nodes
from veil.cli.main import main
from veil.enclave.spec import NodeSpec
from veil.errors import ConfigError
from veil.host.evidence import complete_evidence, remote_collateral_source
from veil.host.homes import OperatorHome
from veil.host.nodes import LocalNodeManager

PCCS_URL = "https://pccs.example:8081/sgx/certification/v4/"


@dataclass(frozen=True)
class Hardware:
    """A node's evidence.json (as served, without collateral) and the collateral it needs."""

    raw: bytes
    collateral: Collateral


@pytest.fixture
def hardware(shared_vectors_dir: Path) -> Hardware:
    cosmian = json.loads((shared_vectors_dir / "cosmian-enclave/evidence.json").read_text())
    document = replace(
        SIMULATED_DOCUMENT,
        tee=Tee.SGX,
        ratls_certificate=cosmian["ratls_certificate"].encode(),
        quote=(shared_vectors_dir / SGX_QUOTE).read_bytes(),
        simulation_root_public_key=None,
    )
    return Hardware(
        raw=document.to_json(),
        collateral=load_collateral((shared_vectors_dir / SGX_BUNDLE).read_bytes()),
    )


def _client(fake: FakePcs) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake))


def test_pccs_collateral_is_embedded_and_cached(hardware: Hardware, tmp_path: Path) -> None:
    fake = FakePcs(hardware.collateral)
    source = remote_collateral_source(
        pccs_url=PCCS_URL, cache_dir=tmp_path / "cache", client=_client(fake)
    )
    collected = complete_evidence(hardware.raw, source, now=SGX_AT)
    assert collected.collateral_added
    assert collected.needs_collateral
    assert collected.tee is Tee.SGX
    document = EvidenceDocument.from_json(collected.data)
    assert document.collateral is not None
    assert document.collateral.digest() == hardware.collateral.digest()
    # Nothing the enclave signed changes: only the collateral member is added.
    assert replace(document, collateral=None) == EvidenceDocument.from_json(hardware.raw)
    assert {r.url.host for r in fake.requests} == {"pccs.example"}
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["sgx-30606a000000-platform.json"]
    # A second collection within the collateral's validity is served from the cache.
    fetched = len(fake.requests)
    again = complete_evidence(hardware.raw, source, now=SGX_AT)
    assert again.data == collected.data
    assert len(fake.requests) == fetched


def test_intel_pcs_collateral_is_embedded(hardware: Hardware, tmp_path: Path) -> None:
    fake = FakePcs(hardware.collateral)
    source = remote_collateral_source(pcs=True, cache_dir=tmp_path, client=_client(fake))
    collected = complete_evidence(hardware.raw, source, now=SGX_AT)
    assert collected.collateral_added
    assert {r.url.host for r in fake.requests} == {
        "api.trustedservices.intel.com",
        "certificates.trustedservices.intel.com",
    }


def test_simulated_evidence_is_left_alone(hardware: Hardware, tmp_path: Path) -> None:
    fake = FakePcs(hardware.collateral)
    source = remote_collateral_source(pcs=True, cache_dir=tmp_path, client=_client(fake))
    raw = SIMULATED_DOCUMENT.to_json()
    collected = complete_evidence(raw, source, now=SGX_AT)
    assert collected.data == raw
    assert not collected.collateral_added
    assert not collected.needs_collateral
    assert fake.requests == []


def test_evidence_that_already_carries_collateral_is_kept(
    hardware: Hardware, tmp_path: Path
) -> None:
    document = replace(EvidenceDocument.from_json(hardware.raw), collateral=hardware.collateral)
    fake = FakePcs(hardware.collateral)
    source = remote_collateral_source(pcs=True, cache_dir=tmp_path, client=_client(fake))
    collected = complete_evidence(document.to_json(), source, now=SGX_AT)
    assert collected.data == document.to_json()
    assert not collected.collateral_added
    assert fake.requests == []


def test_no_source_returns_the_evidence_as_served(hardware: Hardware) -> None:
    collected = complete_evidence(hardware.raw, None, now=SGX_AT)
    assert collected.data == hardware.raw
    assert not collected.collateral_added


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one"),
        ({"pccs_url": PCCS_URL, "pcs": True}, "exactly one"),
        ({"pcs": True, "pccs_ca_file": "ca.pem"}, "only meaningful with a PCCS"),
        ({"pccs_url": "file:///etc/passwd"}, "PCCS URL"),
    ],
)
def test_bad_source_options_are_config_errors(
    options: dict[str, object], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        remote_collateral_source(cache_dir=tmp_path, **options)  # type: ignore[arg-type]


# --- the CLI, against a fake node -------------------------------------------------------------


@pytest.fixture
def fake_services(
    monkeypatch: pytest.MonkeyPatch, hardware: Hardware
) -> tuple[FakePcs, list[bytes]]:
    """`veil evidence` sees nodes serving ``served[0]``, and PCCS/PCS answered by ``fake``."""
    fake = FakePcs(hardware.collateral)
    served = [hardware.raw]

    class FakeBootstrap:
        def __init__(self, url: str) -> None:
            self.url = url

        def evidence(self, *, nonce: bytes | None = None) -> bytes:
            return served[0]

        def provision(self, envelope: bytes) -> None:
            raise AssertionError("not provisioned here")

    home = OperatorHome.from_env()
    for name in ("sgx-node", "sim", "n"):
        paths = home.node(name)
        paths.root.mkdir(parents=True)
        spec = NodeSpec(
            name=name,
            instance_id="00" * 16,
            package=paths.root / "app.veil",
            host="n",
            port=1,
            created_at=datetime.now(UTC),
        )
        paths.spec.write_bytes(spec.to_json())
    manager = LocalNodeManager(home, bootstrap=FakeBootstrap)
    monkeypatch.setattr(_nodes, "node_manager", lambda: manager)

    def make_client(**_: object) -> httpx.Client:
        return _client(fake)

    monkeypatch.setattr(pccs, "make_client", make_client)
    monkeypatch.setattr(_pcs_api, "make_client", make_client)
    return fake, served


@pytest.mark.parametrize("flag", [["--pccs-url", PCCS_URL], ["--pcs"]])
def test_veil_evidence_fetches_collateral(
    fake_services: tuple[FakePcs, list[bytes]],
    flag: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "evidence.json"
    assert main(["evidence", "sgx-node", "-o", str(out), *flag, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tee"] == "sgx"
    assert report["collateral_added"] is True
    assert EvidenceDocument.from_json(out.read_bytes()).collateral is not None
    cache = OperatorHome.from_env().collateral_cache
    assert (cache / "sgx-30606a000000-platform.json").is_file()
    assert fake_services[0].requests


def test_veil_evidence_says_a_simulated_node_needs_no_collateral(
    fake_services: tuple[FakePcs, list[bytes]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, served = fake_services
    served[0] = SIMULATED_DOCUMENT.to_json()
    out = tmp_path / "evidence.json"
    assert main(["evidence", "sim", "-o", str(out), "--pcs"]) == 0
    assert "simulated: its evidence needs no collateral" in " ".join(
        capsys.readouterr().err.split()
    )
    assert out.read_bytes() == served[0]
    assert fake.requests == []


def test_veil_evidence_option_errors(
    fake_services: tuple[FakePcs, list[bytes]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["evidence", "n", "-o", str(tmp_path / "e.json")]
    assert main([*argv, "--pccs-ca-file", "ca.pem"]) == 5
    assert "--pccs-ca-file goes with --pccs-url" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--pcs", "--pccs-url", PCCS_URL])
    assert "not allowed with argument" in capsys.readouterr().err
    assert fake_services[0].requests == []


def test_console_script_offers_the_collateral_services() -> None:
    script = Path(sys.executable).with_name("veil")
    out = subprocess.run(
        [str(script), "evidence", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "--pccs-url" in out.stdout
    assert "--pcs" in out.stdout
