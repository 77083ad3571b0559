"""``veil verify --evidence … --nonce`` and ``veil seal --evidence … --nonce``: fresh evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.owner.conftest import NOTES, Packaged, make_instance, package_app
from veil.cli.main import main

ASKED = "a5" * 32
OTHER = "5a" * 32


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    return package_app(NOTES, tmp_path_factory.mktemp("notes"))


@pytest.fixture(scope="module")
def evidence_file(notes: Packaged, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the operator sends after ``veil evidence NODE --nonce ASKED``."""
    document = make_instance(notes.package).evidence_document(nonce=bytes.fromhex(ASKED))
    path = tmp_path_factory.mktemp("nonce") / "evidence.json"
    path.write_bytes(document.to_json())
    return path


def _verify(evidence: Path, notes: Packaged, *extra: str) -> list[str]:
    argv = ["verify", "--evidence", str(evidence), "--package", str(notes.package)]
    return [*argv, "--allow-simulated-insecure", "--json", *extra]


def test_evidence_answering_the_owners_nonce_verifies(
    evidence_file: Path, notes: Packaged, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_verify(evidence_file, notes, "--nonce", ASKED)) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True


def test_evidence_answering_another_nonce_is_refused(
    evidence_file: Path, notes: Packaged, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator replays evidence it collected for someone else's nonce."""
    assert main(_verify(evidence_file, notes, "--nonce", OTHER)) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is False
    assert "nonce" in report["error"]


def test_seal_checks_the_nonce_too(
    evidence_file: Path, notes: Packaged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = tmp_path / "secrets.json"
    secrets.write_text('{"API_TOKEN": "s3cret"}')
    argv = ["seal", str(secrets), "--evidence", str(evidence_file), "--package", str(notes.package)]
    argv += ["--key", str(notes.key_file), "-o", str(tmp_path / "sealed.bin")]
    argv += ["--allow-simulated-insecure", "--nonce", OTHER]
    assert main(argv) == 3
    assert not (tmp_path / "sealed.bin").exists()
    assert main([*argv[:-1], ASKED]) == 0
    assert (tmp_path / "sealed.bin").is_file()


@pytest.mark.parametrize("bad", ["zz", "", "ab" * 65])
def test_bad_nonce_option_is_a_config_error(
    evidence_file: Path, notes: Packaged, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_verify(evidence_file, notes, "--nonce", bad)) == 5  # ConfigError
    captured = capsys.readouterr()
    assert "--nonce" in captured.out + captured.err
