"""The operator commands against a fake node (the real node runs in tests/e2e)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.host.conftest import FakeNodes
from veil.cli import _nodes
from veil.cli.main import main
from veil.host.homes import OperatorHome
from veil.owner.home import OwnerHome


@pytest.fixture
def fake_node(fake_nodes: FakeNodes, monkeypatch: pytest.MonkeyPatch) -> FakeNodes:
    """The CLI's node manager runs fake nodes."""
    monkeypatch.setattr(_nodes, "node_manager", lambda: fake_nodes.manager)
    return fake_nodes


def test_list_without_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"nodes": []}


@pytest.mark.parametrize("command", ["status", "stop", "restart", "logs", "evidence"])
def test_unknown_node_is_a_config_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [command, "ghost"] + (["-o", "x.json"] if command == "evidence" else [])
    assert main(argv) == 5
    assert "no node named 'ghost'" in capsys.readouterr().err


def test_spawn_status_logs_stop(
    fake_node: FakeNodes,
    package: Path,
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
    fake_node: FakeNodes,
    package: Path,
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


def test_list_has_a_header_and_aligned_columns(
    fake_node: FakeNodes,
    package: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("a", "a-much-longer-name"):
        assert main(["spawn", str(package), "--name", name, "--backend", "gramine-sgx"]) == 0
    capsys.readouterr()
    assert main(["list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["NAME", "STATE", "URL", "BACKEND", "FINGERPRINT", "REASON"]
    assert [row.split()[:2] for row in rows] == [
        ["a", "waiting"],
        ["a-much-longer-name", "waiting"],
    ]
    for column in ("STATE", "URL", "BACKEND", "FINGERPRINT"):
        start = header.index(column)
        assert all(row[start - 2 : start] == "  " and row[start] != " " for row in rows), column
    assert main(["list", "--json"]) == 0
    names = [n["name"] for n in json.loads(capsys.readouterr().out)["nodes"]]
    assert names == ["a", "a-much-longer-name"]


def test_status_never_prints_none(
    fake_node: FakeNodes,
    package: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["spawn", str(package), "--name", "web", "--backend", "gramine-sgx"]) == 0
    assert main(["stop", "web", "--grace", "2"]) == 0
    capsys.readouterr()
    assert main(["status", "web"]) == 0
    out = capsys.readouterr().out
    assert "None" not in out
    assert re.search(r"^pid\s+-$", out, flags=re.MULTILINE)
    assert re.search(r"^fingerprint\s+-$", out, flags=re.MULTILINE)


def test_logs_as_json_lines(
    fake_node: FakeNodes,
    package: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["spawn", str(package), "--name", "web", "--backend", "gramine-sgx"]) == 0
    capsys.readouterr()
    assert main(["logs", "web", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"node": "web", "line": "fake node starting"} in lines
    assert all(set(line) == {"node", "line"} for line in lines)


def test_stop_remove_deletes_the_deploy_files_too(
    fake_node: FakeNodes,
    package: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What `veil deploy` kept (the code key among it) goes with the node."""
    kept = OwnerHome.from_env().deployment("web")
    kept.mkdir(parents=True)
    (kept / "code.key").write_text("secret")
    assert main(["spawn", str(package), "--name", "web", "--backend", "gramine-sgx"]) == 0
    assert main(["stop", "web", "--grace", "2", "--remove"]) == 0
    assert not kept.exists()
    assert not OperatorHome.from_env().node("web").root.exists()
