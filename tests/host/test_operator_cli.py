"""The operator commands against a fake node (the real node runs in tests/e2e)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.host.test_supervisor import fake_node, package  # noqa: F401 - fixtures
from veil.cli.main import main


def test_list_without_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"nodes": []}


@pytest.mark.parametrize("command", ["status", "stop", "restart", "logs", "evidence"])
def test_unknown_node_is_a_config_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [command, "ghost"] + (["-o", "x.json"] if command == "evidence" else [])
    assert main(argv) == 5
    assert "no node named 'ghost'" in capsys.readouterr().err


def test_spawn_status_logs_stop(
    fake_node: list[str],  # noqa: F811
    package: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["spawn", str(package), "--name", "web", "--backend", "gramine-sgx", "--json"]) == 0
    spawned = json.loads(capsys.readouterr().out)
    assert spawned["state"] == "waiting"
    assert spawned["name"] == "web"
    assert main(["status", "web", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["running"] is True
    assert main(["logs", "web"]) == 0
    assert "fake node starting" in capsys.readouterr().out
    assert main(["spawn", str(package), "--name", "web", "--backend", "gramine-sgx"]) == 5
    assert "already exists" in capsys.readouterr().err
    assert main(["stop", "web", "--grace", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["was_running"] is True
    assert main(["status", "web", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "stopped"


def test_untrusted_ssl_warns_that_the_operator_can_read_traffic(
    fake_node: list[str],  # noqa: F811
    package: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("y")
    argv = [
        "spawn",
        str(package),
        "--name",
        "op",
        "--backend",
        "gramine-sgx",
        "--untrusted-ssl-cert",
        str(cert),
        "--untrusted-ssl-key",
        str(key),
    ]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "operator can read" in " ".join(err.split())
    assert main([*argv[:-2]]) == 5  # a certificate without its key
    assert "go together" in capsys.readouterr().err
