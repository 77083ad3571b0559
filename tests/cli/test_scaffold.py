from __future__ import annotations

import json
from pathlib import Path

import pytest

from veil.cli.main import main


def test_scaffold_json_and_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaffold", "shop", "--framework", "flask", "--dir", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["directory"] == str(tmp_path / "shop")
    assert "app.py" in result["files"]
    assert (tmp_path / "shop" / "veil.toml").is_file()
    assert main(["scaffold", "shop", "--dir", str(tmp_path)]) == 6
    assert "already exists" in capsys.readouterr().err
    assert main(["scaffold", "Bad_Name", "--dir", str(tmp_path)]) == 5


@pytest.mark.slow
def test_localtest_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaffold", "shop", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    app = str(tmp_path / "shop")
    code = main(["localtest", app, "--json", "--pytest-args=-p no:cacheprovider -k health"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["exit_status"] == 0
    assert report["passed"] is True
    assert report["url"].startswith("http://127.0.0.1:")
    assert "1 passed, 4 deselected" in captured.err
