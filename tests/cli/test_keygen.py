from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from veil.cli.main import main
from veil.crypto.hpke import SealingSuite
from veil.crypto.keys import read_code_key
from veil.errors import ConfigError, OperationError
from veil.sealing.keys import read_sealing_private_key, read_sealing_public_key


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    """Stderr with rich's line wrapping undone."""
    return " ".join(capsys.readouterr().err.split())


def _b64_key(path: Path) -> str:
    return base64.b64encode(read_code_key(path).secret_bytes()).decode()


def test_keygen_default_path_prints_only_key_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["keygen"]) == 0
    out, err = capsys.readouterr()
    key = read_code_key(tmp_path / "veil.key")
    assert key.key_id in out
    assert "veil.key" in out
    secret = _b64_key(tmp_path / "veil.key")
    assert secret not in out + err
    assert stat.S_IMODE(os.stat(tmp_path / "veil.key").st_mode) == 0o600


def test_keygen_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "owner.key"
    assert main(["keygen", "-o", str(path), "--json"]) == 0
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert doc == {"key_id": read_code_key(path).key_id, "path": str(path)}
    assert _b64_key(path) not in out


def test_keygen_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "veil.key"
    assert main(["keygen", "-o", str(path)]) == 0
    before = path.read_bytes()
    capsys.readouterr()
    assert main(["keygen", "-o", str(path)]) == OperationError.exit_code
    assert "already exists" in _err(capsys)
    assert path.read_bytes() == before


def test_suite_without_sealing_is_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keygen", "-o", str(tmp_path / "k"), "--suite", "x25519"]) == (
        ConfigError.exit_code
    )
    assert "--suite applies only with --sealing" in _err(capsys)
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize("suite", [None, "x25519", "mlkem768-x25519"])
def test_keygen_sealing_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suite: str | None
) -> None:
    path = tmp_path / "enclave.key"
    argv = ["keygen", "--sealing", "-o", str(path), "--json"]
    if suite is not None:
        argv += ["--suite", suite]
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    private = read_sealing_private_key(path)
    public = read_sealing_public_key(tmp_path / "enclave.key.pub")
    assert private.public_key() == public
    assert private.suite == SealingSuite(suite or "mlkem768-x25519")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "enclave.key.pub").st_mode) == 0o644
    doc = json.loads(out)
    assert doc["public_key_path"] == str(tmp_path / "enclave.key.pub")
    assert doc["suite"] == private.suite.value
    assert base64.b64encode(private.to_bytes()).decode() not in out


def test_keygen_sealing_refuses_existing_public_file_without_side_effects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "s.key.pub").write_text("keep")
    assert main(["keygen", "--sealing", "-o", str(tmp_path / "s.key")]) == (
        OperationError.exit_code
    )
    assert "already exists" in _err(capsys)
    assert not (tmp_path / "s.key").exists()
    assert (tmp_path / "s.key.pub").read_text() == "keep"


def test_console_script_keygen(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("veil")
    result = subprocess.run(
        [str(script), "keygen", "-o", str(tmp_path / "veil.key"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["key_id"] == read_code_key(tmp_path / "veil.key").key_id
    secret = _b64_key(tmp_path / "veil.key")
    assert secret not in result.stdout + result.stderr
