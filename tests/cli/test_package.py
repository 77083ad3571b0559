from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.package._helpers import MINIMAL_TOML, build_wheel, make_app
from veil.cli.main import main
from veil.crypto.keys import read_code_key
from veil.package.encrypted import read_package_header
from veil.package.fingerprint import fingerprint_source
from veil.package.source import AppSource


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return " ".join(capsys.readouterr().err.split())


def test_package_fingerprint_decrypt_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path / "app", {"lib/util.py": "X = 1\n"})
    package, key_file = tmp_path / "app.veil", tmp_path / "app.key"
    assert (
        main(["package", str(app), "-o", str(package), "--key-out", str(key_file), "--json"]) == 0
    )
    packaged = _json(capsys)
    key = read_code_key(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert packaged == {
        "name": "demo",
        "fingerprint": fingerprint_source(AppSource.load(app)).fingerprint,
        "key_id": key.key_id,
        "path": str(package),
        "size": package.stat().st_size,
    }
    assert main(["fingerprint", str(app), "--json"]) == 0
    assert _json(capsys)["fingerprint"] == packaged["fingerprint"]
    out = tmp_path / "out"
    assert main(["decrypt", str(package), "--key", str(key_file), "-o", str(out), "--json"]) == 0
    decrypted = _json(capsys)
    assert decrypted["fingerprint"] == packaged["fingerprint"]
    assert (out / "lib/util.py").read_text() == "X = 1\n"


def test_package_with_existing_key_and_human_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path / "app")
    key_file = tmp_path / "k.key"
    assert (
        main(["package", str(app), "-o", str(tmp_path / "a.veil"), "--key-out", str(key_file)]) == 0
    )
    out = capsys.readouterr().out
    secret = read_code_key(key_file).to_text().splitlines()[-1]
    assert secret not in out
    assert "fingerprint" in out
    assert main(["package", str(app), "-o", str(tmp_path / "b.veil"), "--key", str(key_file)]) == 0
    capsys.readouterr()
    assert read_package_header(tmp_path / "b.veil").key_id == read_code_key(key_file).key_id
    assert main(["fingerprint", str(app)]) == 0
    assert capsys.readouterr().out.strip() == read_package_header(tmp_path / "b.veil").fingerprint


def test_package_refuses_outputs_that_would_be_packaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path / "app")
    (app / "old.veil").write_text("previous build")
    code = main(["package", str(app), "-o", str(app / "old.veil"), "--force", "--key-out", "k"])
    assert code == 5
    assert "would be packaged with the app" in _err(capsys)
    (app / "app.key").write_text("")
    code = main(
        ["package", str(app), "-o", str(tmp_path / "a.veil"), "--key-out", str(app / "app.key")]
    )
    assert code == 5
    assert "key file" in _err(capsys)
    assert not (tmp_path / "a.veil").exists()


def test_package_refuses_existing_output_and_needs_a_key_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path / "app")
    (tmp_path / "a.veil").write_text("keep")
    assert (
        main(
            ["package", str(app), "-o", str(tmp_path / "a.veil"), "--key-out", str(tmp_path / "k")]
        )
        == 6
    )
    assert "already exists" in _err(capsys)
    assert not (tmp_path / "k").exists()
    assert main(["package", str(app), "-o", str(tmp_path / "b.veil")]) == 5
    assert "--key-out" in _err(capsys)


def test_plain_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(tmp_path / "app")
    assert main(["package", str(app), "-o", str(tmp_path / "a.tar"), "--plain", "--json"]) == 0
    result = _json(capsys)
    assert result["fingerprint"] == fingerprint_source(AppSource.load(app)).fingerprint
    assert (tmp_path / "a.tar").stat().st_size == result["size"]


def test_decrypt_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(tmp_path / "app")
    package = tmp_path / "a.veil"
    assert main(["package", str(app), "-o", str(package), "--key-out", str(tmp_path / "k1")]) == 0
    wrong = tmp_path / "wrong.key"
    assert main(["package", str(app), "-o", str(tmp_path / "b.veil"), "--key-out", str(wrong)]) == 0
    capsys.readouterr()
    assert main(["decrypt", str(package), "--key", str(wrong), "-o", str(tmp_path / "out")]) == 2
    assert "decryption failed" in _err(capsys)
    assert not (tmp_path / "out").exists()
    (tmp_path / "exists").mkdir()
    assert (
        main(
            ["decrypt", str(package), "--key", str(tmp_path / "k1"), "-o", str(tmp_path / "exists")]
        )
        == 6
    )
    assert "already exists" in _err(capsys)


def test_config_errors_name_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path / "app", toml=MINIMAL_TOML + "port = 8080\n")
    assert main(["fingerprint", str(app)]) == 5
    assert f"{app / 'veil.toml'}: unknown key 'port'" in _err(capsys)


def test_fingerprint_with_local_wheels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_wheel(tmp_path / "wheels", "tinydep")
    toml = MINIMAL_TOML + '[dependencies]\nrequirements = "requirements.txt"\n'
    app = make_app(tmp_path / "app", {"requirements.txt": "tinydep\n"}, toml=toml)
    argv = ["fingerprint", str(app), "--wheels-from", str(tmp_path / "wheels"), "--no-index"]
    assert main([*argv, "--json"]) == 0
    first = _json(capsys)["fingerprint"]
    assert main([*argv, "--json"]) == 0
    assert _json(capsys)["fingerprint"] == first
    assert main(["fingerprint", str(app), "--no-index"]) == 6
    assert "pip download failed" in _err(capsys)


def test_real_console_script(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app")
    veil = Path(sys.executable).parent / "veil"
    env = os.environ | {"COLUMNS": "200"}
    packaged = subprocess.run(
        [
            str(veil),
            "package",
            str(app),
            "-o",
            str(tmp_path / "a.veil"),
            "--key-out",
            str(tmp_path / "a.key"),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    fingerprint = json.loads(packaged.stdout)["fingerprint"]
    decrypted = subprocess.run(
        [
            str(veil),
            "decrypt",
            str(tmp_path / "a.veil"),
            "--key",
            str(tmp_path / "a.key"),
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert fingerprint in decrypted.stdout
    assert (tmp_path / "out/app.py").is_file()
