"""The owner's and user's tools refuse TDX / SEV-SNP evidence without image reference values."""

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
from veil.attestation.result import Tee
from veil.cli.main import main
from veil.client.expect import ExpectedApp
from veil.client.http import AttestedClient
from veil.identity.reference import ImageReference
from veil.owner.verify import verify_owner_evidence

NOW = datetime.now(UTC)


def _document(notes: Packaged, tee: Tee) -> EvidenceDocument:
    """Evidence whose ``tee`` says TDX or SEV-SNP (the refusal comes before the quote)."""
    document = make_instance(notes.package).evidence_document(nonce=b"n" * 32)
    return replace(document, tee=tee, simulation_root_public_key=None)


def _image(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "image.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("tee", [Tee.TDX, Tee.SEV_SNP])
def test_owner_refuses_guest_evidence_without_image(notes: Packaged, tee: Tee) -> None:
    with pytest.raises(PolicyError, match=r"without the guest image's reference values.*--image"):
        verify_owner_evidence(_document(notes, tee), notes.package, now=NOW)


def test_cli_verify_names_the_image_flag(
    notes: Packaged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(_document(notes, Tee.TDX).to_json())
    argv = ["verify", "--evidence", str(evidence), "--package", str(notes.package)]
    assert main(argv) == 3
    assert "--image FILE" in " ".join(capsys.readouterr().err.split())
    assert main([*argv, "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is False
    assert "--image" in report["error"]


def test_cli_seal_names_the_image_flag(
    notes: Packaged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(_document(notes, Tee.SEV_SNP).to_json())
    secrets = tmp_path / "secrets.json"
    secrets.write_text("{}")
    argv = [
        "seal",
        str(secrets),
        "--evidence",
        str(evidence),
        "--package",
        str(notes.package),
        "--key",
        str(notes.key_file),
        "-o",
        str(tmp_path / "sealed"),
    ]
    assert main(argv) == 3
    assert "--image FILE" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "sealed").exists()


def test_image_of_another_tee_is_refused(notes: Packaged, tmp_path: Path) -> None:
    image = ImageReference.from_json(json.dumps(snp_document()).encode())
    with pytest.raises(PolicyError, match="are for sev-snp, the enclave is tdx"):
        verify_owner_evidence(_document(notes, Tee.TDX), notes.package, now=NOW, image=image)


def test_bad_image_file_is_named(
    notes: Packaged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(make_instance(notes.package).evidence_document().to_json())
    bad = tmp_path / "bad-image.json"
    bad.write_text('{"format": "veil-image-reference"}')
    argv = ["verify", "--evidence", str(evidence), "--package", str(notes.package)]
    assert main([*argv, "--image", str(bad), "--allow-simulated-insecure"]) == 2
    assert "bad-image.json" in capsys.readouterr().err


def test_simulated_evidence_refuses_an_image_of_another_tee(
    notes: Packaged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TDX image is never silently ignored: simulated evidence has its own image."""
    image = ImageReference.from_json(json.dumps(tdx_document()).encode())
    document = make_instance(notes.package).evidence_document()
    with pytest.raises(PolicyError, match="are for tdx, the enclave is simulated"):
        verify_owner_evidence(
            document, notes.package, now=NOW, allow_simulated_insecure=True, image=image
        )

    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(document.to_json())
    argv = ["verify", "--evidence", str(evidence), "--package", str(notes.package)]
    argv += ["--allow-simulated-insecure"]
    assert main([*argv, "--image", str(_image(tmp_path, tdx_document()))]) == 3
    assert "the enclave is simulated" in capsys.readouterr().err
    # Without --image, this machine's simulated image is compared, and shown.
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "compared     image measurement" in out
    assert "veil-guest-ubuntu-24.04" not in out


def test_attested_client_takes_the_image() -> None:
    image = ImageReference.from_json(json.dumps(tdx_document()).encode())
    other = ImageReference.from_json(json.dumps(snp_document()).encode())
    AttestedClient("https://app.example:8443", image=image)
    with pytest.raises(ValueError, match="give the image once"):
        AttestedClient("https://app.example:8443", expected=ExpectedApp(image=other), image=image)
