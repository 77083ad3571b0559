"""The operator/owner flow step by step through the CLI, restarts, and a node killed mid-way."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import TEST_APPS, BuiltApp, local_simulation_root, nodes
from veil.cli.main import main
from veil.client.expect import ExpectedApp
from veil.client.http import AttestedClient
from veil.host.bootstrap import BootstrapClient
from veil.host.homes import OperatorHome
from veil.host.interface import SpawnRequest
from veil.host.logs import log_tail
from veil.host.state import read_pid
from veil.identity.runtime import runtime_identity
from veil.owner.deploy import DeployOptions, deploy
from veil.owner.home import OwnerHome

GREETING = "bonjour, enclave"
NOTE = "a note nobody outside the enclave may read: 7f3a"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_manual_flow_through_the_cli(
    notes_app: BuiltApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """spawn → evidence → (owner) verify + seal → provision → status/list/logs → stop."""
    spawned = json.loads(
        _run(capsys, "spawn", str(notes_app.package), "--name", "manual", "--json")
    )
    assert spawned["state"] == "waiting"
    evidence = tmp_path / "evidence.json"
    # Without a nonce the evidence carries the certificate the node serves (curl can pin it).
    _run(capsys, "evidence", "manual", "-o", str(evidence))
    ratls = tmp_path / "ratls.pem"
    verified = json.loads(
        _run(
            capsys,
            "verify",
            "--evidence",
            str(evidence),
            "--package",
            str(notes_app.package),
            "--allow-simulated-insecure",
            "-o",
            str(ratls),
            "--json",
        )
    )
    assert verified["fingerprint"] == notes_app.fingerprint
    assert verified["tee"] == "simulated"
    _check_verify_variants(capsys, evidence, notes_app, spawned["url"])
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"GREETING": GREETING}))
    secrets_file.chmod(0o600)
    sealed = tmp_path / "sealed.bin"
    _run(
        capsys,
        "seal",
        str(secrets_file),
        "--evidence",
        str(evidence),
        "--package",
        str(notes_app.package),
        "--key",
        str(notes_app.code_key),
        "--allow-simulated-insecure",
        "-o",
        str(sealed),
    )
    assert GREETING.encode() not in sealed.read_bytes()
    status = json.loads(_run(capsys, "provision", "manual", str(sealed), "--json"))
    assert status["state"] == "serving"
    # The app got the secret; curl pins the RA-TLS certificate the owner verified.
    out = subprocess.run(
        ["curl", "-sS", "--fail", "--cacert", str(ratls), f"{status['url']}/secret-digest"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert json.loads(out.stdout)["sha256"] == hashlib.sha256(GREETING.encode()).hexdigest()
    listed = json.loads(_run(capsys, "list", "--json"))
    assert [n["name"] for n in listed["nodes"] if n["state"] == "serving"] == ["manual"]
    logs = _run(capsys, "logs", "manual")
    assert "serving" in logs
    assert GREETING not in logs
    stopped = json.loads(_run(capsys, "stop", "manual", "--json", "--remove"))
    assert stopped == {"name": "manual", "was_running": True, "removed": True}


def _check_verify_variants(
    capsys: pytest.CaptureFixture[str], evidence: Path, app: BuiltApp, url: str
) -> None:
    """A user with only the fingerprint gets the measurement checked; owner and user may pin a
    runtime other than the installed one (the node runs the installed one)."""
    installed = runtime_identity()
    owner = ["verify", "--evidence", str(evidence), "--package", str(app.package)]
    user = ["verify", url, "--fingerprint", app.fingerprint]
    shown = " ".join(_run(capsys, *user, "--allow-simulated-insecure").split())
    assert "code checked yes" in shown
    assert "measurement yes (recomputed for the trusted runtime and this app)" in shown
    for argv in (owner, user):
        pinned = [*argv, "--allow-simulated-insecure", "--json"]
        report = json.loads(
            _run(capsys, *pinned, "--runtime-digest", installed.digest.removeprefix("sha256:"))
        )
        assert report["verified"] is True
        other = "sha256:" + "ab" * 32
        assert main([*pinned, "--runtime-digest", other, "--runtime-version", "0.0.9"]) == 3
        refused = json.loads(capsys.readouterr().out)
        assert "not the trusted 0.0.9 (" + other + ")" in refused["error"]


def test_restart_brings_the_app_and_its_sealed_data_back(
    notes_app: BuiltApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = deploy(
        notes_app.source,
        DeployOptions(
            name="notes",
            allow_simulated_insecure=True,
            package=notes_app.package,
            code_key=notes_app.code_key,
            app_secrets={"GREETING": GREETING},
        ),
    )
    assert result.node_dir is not None
    client_options = {
        "expected": ExpectedApp.from_package(notes_app.package),
        "allow_simulated_insecure": True,
        "simulation_root_public_key": local_simulation_root(),
    }
    with AttestedClient(result.url, **client_options) as client:  # type: ignore[arg-type]
        assert client.put("/note", content=NOTE.encode()).json() == {"stored": len(NOTE)}
        first_certificate = client.verification.certificate_der if client.verification else b""
        sealed_files = [p for p in (result.node_dir / "sealed").rglob("*") if p.is_file()]
        assert sealed_files
        assert all(NOTE.encode() not in p.read_bytes() for p in sealed_files)
        assert all(GREETING.encode() not in p.read_bytes() for p in sealed_files)
        restarted = json.loads(_run(capsys, "restart", "notes", "--json"))
        # allow_restart_without_owner: it serves again on its own, with its data.
        # It waits for the owner instead when the veil runtime changed since the first start
        # (the sealing identity covers it), as happens while the tree is being edited.
        assert restarted["state"] == "serving", log_tail(result.node_dir / "node.log")
        assert client.get("/note").json() == {"note": NOTE}  # re-verified: the key is new
        assert client.verification is not None
        assert client.verification.certificate_der != first_certificate
        digest = client.get("/secret-digest").json()["sha256"]
        assert digest == hashlib.sha256(GREETING.encode()).hexdigest()
    nodes().stop("notes", grace=3.0, remove=True)


def test_node_killed_during_provisioning_can_be_provisioned_again(
    built_apps: dict[str, BuiltApp],
) -> None:
    """SIGKILL while the app loads: the node is down, nothing half-done serves; after a
    restart it waits for the owner again (no restart without owner for this app)."""
    app = built_apps["hello-fastapi"]
    paths = OperatorHome.from_env().node("killed")
    nodes().spawn(SpawnRequest(name="killed", package=app.package))
    nodes().wait("killed", ("waiting",), timeout=60)
    url = nodes().status("killed").url
    from tests.e2e.test_attacks import _owner_blob

    BootstrapClient(url).provision(_owner_blob(url, app))
    pid = read_pid(paths)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    # SIGKILL is delivered asynchronously: the process may still exist for a moment.
    deadline = time.monotonic() + 10
    while nodes().status("killed").running and time.monotonic() < deadline:
        time.sleep(0.01)
    info = nodes().status("killed")
    assert not info.running
    assert info.display_state == "stopped"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", verify=False, timeout=5)  # noqa: S501 - nothing listens
    main(["restart", "killed", "--json"])
    assert nodes().status("killed").display_state == "waiting"
    BootstrapClient(url).provision(_owner_blob(url, app))
    nodes().wait("killed", ("serving",), timeout=60)
    nodes().stop("killed", grace=3.0, remove=True)


def test_deploy_refuses_simulated_without_the_insecure_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["deploy", str(TEST_APPS / "notes"), "--name", "refused"])
    assert code == 5
    assert "--allow-simulated-insecure" in capsys.readouterr().err
    assert not OperatorHome.from_env().node("refused").root.exists()


def test_veil_deploy_console_script(tmp_path: Path) -> None:
    """The real ``veil`` executable, as the README runs it."""
    veil = shutil.which("veil", path=str(Path(sys.executable).parent))
    assert veil is not None
    env = {**os.environ}
    out = subprocess.run(
        [
            veil,
            "deploy",
            str(TEST_APPS / "notes"),
            "--name",
            "cli",
            "--allow-simulated-insecure",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert {"url", "name", "fingerprint", "certificate"} <= set(result)
    assert "SIMULATED" in out.stderr
    health = subprocess.run(
        ["curl", "-sS", "--fail", "--cacert", result["certificate"], f"{result['url']}/health"],
        capture_output=True,
        timeout=30,
    )
    assert health.returncode == 0, health.stderr
    kept = OwnerHome.from_env().deployment("cli")
    assert (kept / "code.key").is_file()
    stop = subprocess.run([veil, "stop", "cli", "--remove"], capture_output=True, timeout=60)
    assert stop.returncode == 0
    assert not kept.exists()  # the code key went with the node
