"""The supervisor against a fake node process (the real node is exercised in tests/e2e)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from veil.host import supervisor
from veil.host.state import NodePaths, node_paths, read_pid
from veil.host.supervisor import (
    NameInUseError,
    NodeExitedError,
    PortInUseError,
    StateTimeoutError,
    follow_log,
    free_port,
    is_running,
    list_nodes,
    node_info,
    restart_node,
    spawn_node,
    stop_node,
    wait_for_state,
)

#: A stand-in for ``python -m veil.enclave``: reports states like the node does, then idles.
#: argv: node_dir mode. Modes: ok, fail, exit, hang (never reports), stubborn (ignores TERM).
FAKE_NODE = r"""
import json, os, signal, sys, time
node_dir, mode = sys.argv[1], sys.argv[2]
def report(state, reason=None):
    doc = {"state": state, "reason": reason, "since": "2025-01-01T00:00:00+00:00",
           "pid": os.getpid(), "port": 1, "fingerprint": None, "url": "https://127.0.0.1:1"}
    tmp = os.path.join(node_dir, ".state.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, os.path.join(node_dir, "state.json"))
print("fake node starting", flush=True)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if mode == "exit":
    sys.exit(3)
if mode != "hang":
    report("starting")
    report("failed" if mode == "fail" else "waiting", "boom" if mode == "fail" else None)
while True:
    time.sleep(0.05)
"""


#: Generous: a loaded 2-core CI machine can take seconds to start a Python process.
START_TIMEOUT = 60.0


@pytest.fixture
def fake_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    script = tmp_path / "fake_node.py"
    script.write_text(FAKE_NODE)
    mode = ["ok"]

    def command(paths: NodePaths) -> list[str]:
        return [sys.executable, str(script), str(paths.root), mode[0]]

    monkeypatch.setattr(supervisor, "_node_command", command)
    yield mode
    for info in list_nodes():
        stop_node(info.name, grace=0.2)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    path = tmp_path / "app.veil"
    path.write_bytes(b"not read by the fake node")
    return path


def _spawn(package: Path, name: str = "n1", **kwargs: object) -> NodePaths:
    return spawn_node(package, name=name, backend="gramine-sgx", **kwargs)  # type: ignore[arg-type]


def test_spawn_waits_for_waiting_and_records_the_node(fake_node: list[str], package: Path) -> None:
    paths = _spawn(package, port=free_port())
    state = wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    assert state.state == "waiting"
    info = node_info("n1")
    assert info.running
    assert info.display_state == "waiting"
    assert info.spec.package == package.resolve()
    assert len(info.spec.instance_id) == 32
    assert info.to_json()["url"] == f"https://127.0.0.1:{info.spec.port}"
    assert "fake node starting" in list(follow_log(paths, follow=False))


def test_node_outlives_its_session_and_is_in_its_own_group(
    fake_node: list[str], package: Path
) -> None:
    paths = _spawn(package)
    wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    pid = read_pid(paths)
    assert pid is not None
    assert os.getpgid(pid) == pid  # new session: it leads its own group
    assert os.getsid(pid) == pid


def test_name_in_use_is_refused(fake_node: list[str], package: Path) -> None:
    _spawn(package)
    with pytest.raises(NameInUseError, match="already exists"):
        _spawn(package)


def test_port_in_use_is_refused(fake_node: list[str], package: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port}"):
            _spawn(package, port=port)
    assert not node_paths("n1").root.exists()


def test_missing_package_is_refused(fake_node: list[str], tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not found"):
        _spawn(tmp_path / "nope.veil")


def test_failed_node_reports_reason_and_log(fake_node: list[str], package: Path) -> None:
    fake_node[0] = "fail"
    paths = _spawn(package)
    with pytest.raises(NodeExitedError, match=r"failed: boom[\s\S]*fake node starting"):
        wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)


def test_exited_node_is_reported(fake_node: list[str], package: Path) -> None:
    fake_node[0] = "exit"
    paths = _spawn(package)
    with pytest.raises(NodeExitedError, match=r"exited \(exit code 3\)"):
        wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    assert node_info("n1").display_state == "stopped"


def test_killed_node_is_reported_with_its_signal(fake_node: list[str], package: Path) -> None:
    fake_node[0] = "hang"
    paths = _spawn(package)
    pid = read_pid(paths)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(NodeExitedError, match=r"exited \(killed by SIGKILL\)"):
        wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)


# -- is_running right after exec: Linux shows an empty /proc/PID/cmdline while execve is
# -- half done, which made a just-spawned node look exited (NodeExitedError, empty log).


def test_a_process_mid_exec_is_not_taken_for_a_dead_node(tmp_path: Path) -> None:
    """The real race, against the /proc check used for nodes another process started."""
    root = tmp_path / "nodes" / "n1"
    for _ in range(25):
        process = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)", str(root)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            assert supervisor._is_node_process(process.pid, root)  # at once, as spawn does
        finally:
            process.kill()
            process.wait()
        assert not supervisor._is_node_process(process.pid, root)


def test_own_child_is_running_whatever_proc_shows(
    fake_node: list[str], package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_node[0] = "hang"
    paths = _spawn(package)
    monkeypatch.setattr(supervisor, "_read_proc", lambda proc: ("1 (python) R 1", b""))
    assert is_running(paths)  # an unreaped child of ours: its pid cannot be recycled
    assert node_info("n1").running


def test_empty_command_line_is_awaited_then_checked(
    fake_node: list[str], package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_node[0] = "hang"
    paths = _spawn(package)
    pid = read_pid(paths)
    assert pid is not None
    real = supervisor._read_proc
    reads = iter([("1 (python) R 1", b"")] * 3)

    def exec_in_progress(proc: Path) -> tuple[str, bytes] | None:
        return next(reads, None) or real(proc)

    started = supervisor._children.copy()
    monkeypatch.setattr(supervisor, "_children", {})  # as seen from another veil process
    monkeypatch.setattr(supervisor, "_read_proc", exec_in_progress)
    assert is_running(paths)
    # A command line that stays empty (a kernel thread on a recycled pid) is not the node.
    monkeypatch.setattr(supervisor, "_EXEC_SETTLE_SECONDS", 0.05)
    monkeypatch.setattr(supervisor, "_read_proc", lambda proc: ("1 (kthreadd) S 2", b""))
    start = time.monotonic()
    assert not is_running(paths)
    assert time.monotonic() - start >= 0.05
    monkeypatch.setattr(supervisor, "_children", started)  # so the fixture stops the node


def test_pid_file_is_replaced_not_rewritten(fake_node: list[str], package: Path) -> None:
    paths = _spawn(package)
    wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    assert read_pid(paths) == node_info("n1").pid
    assert sorted(p.name for p in paths.root.iterdir() if p.name.startswith(".node.pid")) == []


def test_wait_times_out(fake_node: list[str], package: Path) -> None:
    fake_node[0] = "hang"
    paths = _spawn(package)
    with pytest.raises(StateTimeoutError, match="no state yet"):
        wait_for_state(paths, ("waiting",), timeout=0.3)


def test_stop_terminates_then_kills(fake_node: list[str], package: Path) -> None:
    fake_node[0] = "stubborn"
    paths = _spawn(package)
    wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    start = time.monotonic()
    assert stop_node("n1", grace=0.3) is True
    assert time.monotonic() - start >= 0.3  # SIGTERM was ignored for the whole grace period
    assert not is_running(paths)
    assert stop_node("n1") is False
    assert node_info("n1").display_state == "stopped"


def test_stop_remove_deletes_the_directory(fake_node: list[str], package: Path) -> None:
    paths = _spawn(package)
    wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    stop_node("n1", grace=2, remove=True)
    assert not paths.root.exists()


def test_restart_starts_a_new_process_on_the_same_record(
    fake_node: list[str], package: Path
) -> None:
    paths = _spawn(package)
    wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    first_pid = read_pid(paths)
    instance = node_info("n1").spec.instance_id
    restart_node("n1", grace=2)
    wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    assert read_pid(paths) != first_pid
    assert node_info("n1").spec.instance_id == instance
    assert node_info("n1").running


def test_recycled_pid_is_not_mistaken_for_the_node(fake_node: list[str], package: Path) -> None:
    paths = _spawn(package)
    wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    # Our own pid is alive but is not this node: its command line does not name the node dir.
    assert not is_running(paths, pid=os.getpid())


def test_stop_removes_a_runtime_directory_left_by_a_killed_node(
    fake_node: list[str], package: Path
) -> None:
    from veil.enclave.runtime_dir import runtime_base, runtime_dir_prefix

    paths = _spawn(package)
    wait_for_state(paths, ("waiting",), timeout=START_TIMEOUT)
    pid = read_pid(paths)
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # no chance to clean up
    deadline = time.monotonic() + 10
    while is_running(paths) and time.monotonic() < deadline:
        time.sleep(0.02)
    # What a node killed while serving leaves: a runtime directory named after its pid.
    leftover = runtime_base() / f"{runtime_dir_prefix(paths.root)}{pid}-x"
    leftover.mkdir(mode=0o700)
    (leftover / "app.py").write_text("decrypted code")
    stop_node("n1", remove=True)
    assert not leftover.exists()
    assert not paths.root.exists()
