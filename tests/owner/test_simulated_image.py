"""Simulated evidence is checked against the simulated image: the node's Python environment."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.identity.test_image_reference import snp_document, tdx_document
from tests.owner.conftest import Packaged, make_instance
from veil.attestation.errors import PolicyError
from veil.attestation.evidence import EvidenceDocument
from veil.cli.main import main
from veil.identity.environment import (
    Distribution,
    PythonEnvironment,
    python_environment,
    simulated_image_reference,
)
from veil.identity.reference import ImageReference
from veil.owner.verify import verify_owner_evidence

NOW = datetime.now(UTC)


def _with_extra_distribution() -> PythonEnvironment:
    """This machine's environment plus one distribution the operator installed."""
    here = python_environment()
    extra = Distribution(name="operator-shim", version="1.0", record_sha256=bytes(32))
    return replace(here, distributions=(*here.distributions, extra))


def _evidence_from_another_environment(
    notes: Packaged, monkeypatch: pytest.MonkeyPatch
) -> EvidenceDocument:
    # The node computes its image at start, from the environment it runs in.
    with monkeypatch.context() as patch:
        patch.setattr(
            "veil.enclave.backends.simulated.python_environment", _with_extra_distribution
        )
        return make_instance(notes.package).evidence_document()


def _write(tmp_path: Path, name: str, document: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_evidence_from_another_environment_is_refused_naming_the_image(
    notes: Packaged, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _evidence_from_another_environment(notes, monkeypatch)
    with pytest.raises(PolicyError, match="policy rule image: ") as caught:
        verify_owner_evidence(document, notes.package, now=NOW, allow_simulated_insecure=True)
    assert caught.value.rule == "image"
    assert "veil measure --backend simulated" in str(caught.value)


def test_cli_refuses_evidence_from_another_environment(
    notes: Packaged,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(_evidence_from_another_environment(notes, monkeypatch).to_json())
    argv = ["verify", "--evidence", str(evidence), "--package", str(notes.package)]
    assert main([*argv, "--allow-simulated-insecure", "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is False
    assert report["error"].startswith("policy rule image:")


@pytest.mark.parametrize("image", [tdx_document, snp_document])
def test_image_of_another_tee_is_refused_for_simulated_evidence(
    notes: Packaged, tmp_path: Path, image: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = ImageReference.from_json(json.dumps(image()).encode())
    document = make_instance(notes.package).evidence_document()
    with pytest.raises(PolicyError, match=r"are for (tdx|sev-snp), the enclave is simulated"):
        verify_owner_evidence(
            document, notes.package, now=NOW, allow_simulated_insecure=True, image=reference
        )
    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(document.to_json())
    argv = ["verify", "--evidence", str(evidence), "--package", str(notes.package)]
    argv += ["--allow-simulated-insecure", "--image", str(_write(tmp_path, "i.json", image()))]
    assert main(argv) == 3
    assert "the enclave is simulated" in capsys.readouterr().err


def test_simulated_reference_with_a_wrong_value_is_refused(
    notes: Packaged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = simulated_image_reference().to_json()
    wrong["measurements"] = {"image": "00" * 48}
    reference = ImageReference.from_json(json.dumps(wrong).encode())
    document = make_instance(notes.package).evidence_document()
    with pytest.raises(PolicyError, match="policy rule image: ") as caught:
        verify_owner_evidence(
            document, notes.package, now=NOW, allow_simulated_insecure=True, image=reference
        )
    assert caught.value.rule == "image"
    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(document.to_json())
    argv = ["verify", "--evidence", str(evidence), "--package", str(notes.package)]
    argv += ["--allow-simulated-insecure", "--image", str(_write(tmp_path, "s.json", wrong))]
    assert main(argv) == 3
    assert "simulated node's Python environment is not" in " ".join(capsys.readouterr().err.split())


def test_default_policy_refuses_simulated_evidence_of_the_right_environment(
    notes: Packaged,
) -> None:
    document = make_instance(notes.package).evidence_document()
    for image in (None, simulated_image_reference()):
        with pytest.raises(PolicyError, match="policy rule simulated:"):
            verify_owner_evidence(document, notes.package, now=NOW, image=image)


def test_this_machines_image_is_the_default_and_is_reported(
    notes: Packaged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = make_instance(notes.package).evidence_document()
    enclave = verify_owner_evidence(document, notes.package, now=NOW, allow_simulated_insecure=True)
    assert list(enclave.compared) == ["image", "measurement"]
    assert enclave.compared["image"] == python_environment().image().hex()
    report = enclave.to_json()
    assert report["compared"] == dict(enclave.compared)
    assert report["image"] == simulated_image_reference().to_json()

    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(document.to_json())
    argv = ["verify", "--evidence", str(evidence), "--package", str(notes.package)]
    assert main([*argv, "--allow-simulated-insecure"]) == 0
    out = capsys.readouterr().out
    assert "compared     image measurement" in out
    assert f"image        {python_environment().image().hex()}" in out


def test_pinned_simulated_reference_verifies(
    notes: Packaged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pinned = _write(tmp_path, "sim.json", simulated_image_reference().to_json())
    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(make_instance(notes.package).evidence_document().to_json())
    argv = ["verify", "--evidence", str(evidence), "--package", str(notes.package)]
    assert main([*argv, "--allow-simulated-insecure", "--image", str(pinned), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["compared"]) == ["image", "measurement"]
    assert report["image"]["tee"] == "simulated"
