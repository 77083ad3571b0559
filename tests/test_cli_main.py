from __future__ import annotations

import pytest

from veil.cli.main import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("veil ")


def test_command_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 5  # usage errors share ConfigError's code (docs/cli.md)
    assert "COMMAND" in capsys.readouterr().err
