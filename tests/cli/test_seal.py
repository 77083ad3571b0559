from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from veil.cli.main import main
from veil.crypto.hpke import SealingPrivateKey, SealingSuite
from veil.errors import ConfigError, DecryptionError, FormatError, OperationError
from veil.sealing.envelope import MAX_SEALED_PLAINTEXT_BYTES, unseal
from veil.sealing.keys import write_sealing_private_key, write_sealing_public_key

SECRET = b'{"DATABASE_URL": "postgres://u:hunter2@db/app"}'


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    """Stderr with rich's line wrapping undone."""
    return " ".join(capsys.readouterr().err.split())


@pytest.fixture
def keys(tmp_path: Path) -> tuple[SealingPrivateKey, Path, Path]:
    key = SealingPrivateKey.generate(suite=SealingSuite.X25519)
    private, public = tmp_path / "enclave.key", tmp_path / "enclave.key.pub"
    write_sealing_private_key(private, key)
    write_sealing_public_key(public, key.public_key())
    return key, private, public


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.json"
    path.write_bytes(SECRET)
    return path


def test_seal_then_unseal(
    tmp_path: Path,
    keys: tuple[SealingPrivateKey, Path, Path],
    secrets_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key, private, public = keys
    sealed, opened = tmp_path / "s.veilseal", tmp_path / "opened.json"
    argv = ["seal", str(secrets_file), "--to", str(public), "--binding", "inst-1"]
    assert main([*argv, "-o", str(sealed), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"output": str(sealed), "suite": "x25519", "bytes": sealed.stat().st_size}
    assert unseal(sealed.read_bytes(), recipient=key, binding=b"inst-1") == SECRET

    unseal_argv = ["unseal", str(sealed), "--key", str(private), "--binding", "inst-1"]
    assert main([*unseal_argv, "-o", str(opened)]) == 0
    out, err = capsys.readouterr()
    assert opened.read_bytes() == SECRET
    assert stat.S_IMODE(os.stat(opened).st_mode) == 0o600
    assert "hunter2" not in out + err
    assert base64.b64encode(key.to_bytes()).decode() not in out + err


def test_binding_hex(
    tmp_path: Path, keys: tuple[SealingPrivateKey, Path, Path], secrets_file: Path
) -> None:
    key, _, public = keys
    sealed = tmp_path / "s"
    argv = ["seal", str(secrets_file), "--to", str(public), "--binding-hex", "00ff", "-o"]
    assert main([*argv, str(sealed)]) == 0
    assert unseal(sealed.read_bytes(), recipient=key, binding=b"\x00\xff") == SECRET


def test_unseal_with_wrong_binding_is_opaque_and_writes_nothing(
    tmp_path: Path,
    keys: tuple[SealingPrivateKey, Path, Path],
    secrets_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, private, public = keys
    sealed, opened = tmp_path / "s", tmp_path / "o"
    assert (
        main(["seal", str(secrets_file), "--to", str(public), "--binding", "a", "-o", str(sealed)])
        == 0
    )
    capsys.readouterr()
    code = main(["unseal", str(sealed), "--key", str(private), "--binding", "b", "-o", str(opened)])
    assert code == DecryptionError.exit_code
    assert "wrong key or binding, or a corrupted envelope" in _err(capsys)
    assert not opened.exists()


def test_refuses_to_overwrite_output(
    tmp_path: Path,
    keys: tuple[SealingPrivateKey, Path, Path],
    secrets_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, public = keys
    out = tmp_path / "exists"
    out.write_bytes(b"old")
    code = main(["seal", str(secrets_file), "--to", str(public), "-o", str(out)])
    assert code == OperationError.exit_code
    assert "already exists" in _err(capsys)
    assert out.read_bytes() == b"old"


def test_recipient_is_required(secrets_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["seal", str(secrets_file), "-o", "x"])
    assert exc.value.code == ConfigError.exit_code  # a usage error (docs/cli.md)
    assert "--to" in _err(capsys)


def test_stdout_output_refused_on_terminal(
    keys: tuple[SealingPrivateKey, Path, Path],
    secrets_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, public = keys
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code = main(["seal", str(secrets_file), "--to", str(public), "-o", "-"])
    assert code == ConfigError.exit_code
    assert "terminal" in _err(capsys)


def test_stdout_output_with_json_is_refused(
    keys: tuple[SealingPrivateKey, Path, Path],
    secrets_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, public = keys
    code = main(["seal", str(secrets_file), "--to", str(public), "-o", "-", "--json"])
    assert code == ConfigError.exit_code
    assert "--json" in _err(capsys)


def test_oversized_input_and_bad_binding(
    tmp_path: Path,
    keys: tuple[SealingPrivateKey, Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, public = keys
    big = tmp_path / "big"
    big.write_bytes(bytes(MAX_SEALED_PLAINTEXT_BYTES + 1))
    assert main(["seal", str(big), "--to", str(public), "-o", str(tmp_path / "o")]) == (
        FormatError.exit_code
    )
    assert "larger than" in _err(capsys)
    code = main(["seal", str(big), "--to", str(public), "--binding-hex", "zz", "-o", "o"])
    assert code == ConfigError.exit_code
    assert "--binding-hex must be hexadecimal" in _err(capsys)


def test_missing_and_malformed_key_files(
    tmp_path: Path, secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["seal", str(secrets_file), "--to", str(tmp_path / "nope"), "-o", "o"])
    assert code == OperationError.exit_code
    bad = tmp_path / "bad.pub"
    bad.write_text("hello\n")
    code = main(["seal", str(secrets_file), "--to", str(bad), "-o", str(tmp_path / "o")])
    assert code == FormatError.exit_code
    assert "must start with the line 'veil-sealing-public-key v1'" in _err(capsys)


def test_seal_from_stdin(
    tmp_path: Path,
    keys: tuple[SealingPrivateKey, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, _, public = keys

    class _Stdin:
        buffer = io.BytesIO(SECRET)

    monkeypatch.setattr(sys, "stdin", _Stdin())
    sealed = tmp_path / "s"
    assert main(["seal", "-", "--to", str(public), "-o", str(sealed)]) == 0
    assert unseal(sealed.read_bytes(), recipient=key, binding=b"") == SECRET


@pytest.mark.slow
def test_console_script_seal_and_unseal_through_pipe(
    tmp_path: Path, keys: tuple[SealingPrivateKey, Path, Path], secrets_file: Path
) -> None:
    _, private, public = keys
    script = str(Path(sys.executable).with_name("veil"))
    sealed = subprocess.run(
        [script, "seal", str(secrets_file), "--to", str(public), "--binding", "x", "-o", "-"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert sealed.returncode == 0, sealed.stderr
    opened = subprocess.run(
        [script, "unseal", "-", "--key", str(private), "--binding", "x", "-o", "-"],
        input=sealed.stdout,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == SECRET
