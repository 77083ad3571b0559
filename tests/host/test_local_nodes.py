"""``LocalNodeManager`` against a fake node process (the real node is exercised in tests/e2e)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.host.conftest import FakeNodes
from veil.enclave.spec import NodeSpec
from veil.errors import ConfigError, OperationError
from veil.host.interface import (
    NameInUseError,
    NodeExitedError,
    NodeManager,
    NodeNotFoundError,
    NodeStatus,
    PortInUseError,
    SpawnRequest,
    StateTimeoutError,
)
from veil.host.node_spec import free_port
from veil.host.nodes import LocalNodeManager
from veil.host.process import LocalProcesses, SystemClock, read_proc
from veil.host.state import read_pid

#: Generous: a loaded 2-core CI machine can take seconds to start a Python process.
START_TIMEOUT = 60.0


def _spawn(fake: FakeNodes, package: Path, name: str = "n1", **kwargs: object) -> NodeStatus:
    request = SpawnRequest(name=name, package=package, backend="gramine-sgx", **kwargs)  # type: ignore[arg-type]
    return fake.manager.spawn(request)


def test_the_local_manager_is_a_node_manager(fake_nodes: FakeNodes) -> None:
    manager: NodeManager = fake_nodes.manager  # mypy checks the protocol here
    assert manager.list() == []


def test_spawn_waits_for_waiting_and_records_the_node(fake_nodes: FakeNodes, package: Path) -> None:
    _spawn(fake_nodes, package, port=free_port())
    state = fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    assert state.state == "waiting"
    info = fake_nodes.manager.status("n1")
    assert info.running
    assert info.display_state == "waiting"
    assert info.package == str(package.resolve())
    assert len(info.instance_id) == 32
    assert info.node_dir == fake_nodes.paths("n1").root
    assert info.to_json()["url"] == f"https://127.0.0.1:{info.port}"
    assert "fake node starting" in list(fake_nodes.manager.logs("n1"))


def test_the_record_is_built_directly(fake_nodes: FakeNodes, package: Path, tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    _spawn(fake_nodes, package, san=("app.example",), operator_tls=(cert, key))
    spec = NodeSpec.read(fake_nodes.paths("n1").root)
    assert spec.san == ("localhost", "127.0.0.1", "app.example")
    assert spec.tls_scenario_override == "operator"
    assert spec.operator_tls is not None
    assert spec.operator_tls.private_key == key.resolve()
    assert isinstance(spec.created_at, datetime)
    assert spec.created_at.tzinfo is not None


def test_invalid_parameters_name_the_field(fake_nodes: FakeNodes, package: Path) -> None:
    with pytest.raises(ConfigError, match=r"invalid node parameters: node\.json: san"):
        _spawn(fake_nodes, package, san=("not a name!",))
    assert not fake_nodes.paths("n1").root.exists()


def test_node_outlives_its_session_and_is_in_its_own_group(
    fake_nodes: FakeNodes, package: Path
) -> None:
    _spawn(fake_nodes, package)
    fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    pid = read_pid(fake_nodes.paths("n1"))
    assert pid is not None
    assert os.getpgid(pid) == pid  # new session: it leads its own group
    assert os.getsid(pid) == pid


def test_name_in_use_is_refused(fake_nodes: FakeNodes, package: Path) -> None:
    _spawn(fake_nodes, package)
    with pytest.raises(NameInUseError, match="already exists"):
        _spawn(fake_nodes, package)


def test_unknown_node_is_not_found(fake_nodes: FakeNodes) -> None:
    for call in (
        lambda: fake_nodes.manager.status("ghost"),
        lambda: fake_nodes.manager.stop("ghost"),
        lambda: fake_nodes.manager.provision("ghost", b"x"),
        lambda: list(fake_nodes.manager.logs("ghost")),
    ):
        with pytest.raises(NodeNotFoundError, match="no node named 'ghost'"):
            call()


def test_port_in_use_is_refused(fake_nodes: FakeNodes, package: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port}"):
            _spawn(fake_nodes, package, port=port)
    assert not fake_nodes.paths("n1").root.exists()


def test_missing_package_is_refused(fake_nodes: FakeNodes, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        _spawn(fake_nodes, tmp_path / "nope.veil")


def test_failed_node_reports_reason_and_log(fake_nodes: FakeNodes, package: Path) -> None:
    fake_nodes.mode = "fail"
    _spawn(fake_nodes, package)
    with pytest.raises(NodeExitedError, match=r"failed: boom[\s\S]*fake node starting"):
        fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)


def test_exited_node_is_reported(fake_nodes: FakeNodes, package: Path) -> None:
    fake_nodes.mode = "exit"
    _spawn(fake_nodes, package)
    with pytest.raises(NodeExitedError, match=r"exited \(exit code 3\)"):
        fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    assert fake_nodes.manager.status("n1").display_state == "stopped"


def test_killed_node_is_reported_with_its_signal(fake_nodes: FakeNodes, package: Path) -> None:
    fake_nodes.mode = "hang"
    _spawn(fake_nodes, package)
    pid = read_pid(fake_nodes.paths("n1"))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(NodeExitedError, match=r"exited \(killed by SIGKILL\)"):
        fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)


def test_provisioning_a_stopped_node_is_refused(fake_nodes: FakeNodes, package: Path) -> None:
    _spawn(fake_nodes, package)
    fake_nodes.manager.stop("n1", grace=2)
    with pytest.raises(OperationError, match="is not running"):
        fake_nodes.manager.provision("n1", b"sealed")


# -- is_running right after exec: Linux shows an empty /proc/PID/cmdline while execve is
# -- half done, which made a just-spawned node look exited (NodeExitedError, empty log).


def test_a_process_mid_exec_is_not_taken_for_a_dead_node(tmp_path: Path) -> None:
    """The real race, against the /proc check used for nodes another process started."""
    root = tmp_path / "nodes" / "n1"
    elsewhere = LocalProcesses()  # started none of them: only /proc can tell
    for _ in range(25):
        process = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)", str(root)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            assert elsewhere.is_running(process.pid, root)  # at once, as spawn does
        finally:
            process.kill()
            process.wait()
        assert not elsewhere.is_running(process.pid, root)


def _mid_exec(pid: int) -> tuple[str, bytes] | None:
    return ("1 (python) R 1", b"")


def test_own_child_is_running_whatever_proc_shows(tmp_path: Path) -> None:
    script = tmp_path / "idle.py"
    script.write_text("import time\nwhile True: time.sleep(0.05)\n")
    processes = LocalProcesses(lambda d: [sys.executable, str(script), str(d)], proc=_mid_exec)
    root = tmp_path / "n1"
    root.mkdir()
    pid = processes.start(root, log=root / "node.log")
    try:
        assert processes.is_running(pid, root)  # an unreaped child of ours: no recycled pid
    finally:
        processes.signal(pid, signal.SIGKILL)
        processes.release(pid)


class SteppingClock(SystemClock):
    """Real wall clock; a monotonic clock that advances by what is slept, at once."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def monotonic(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.now_s += seconds


def test_empty_command_line_is_awaited_then_checked(fake_nodes: FakeNodes, package: Path) -> None:
    fake_nodes.mode = "hang"
    _spawn(fake_nodes, package)
    root = fake_nodes.paths("n1").root
    pid = read_pid(fake_nodes.paths("n1"))
    assert pid is not None
    reads = iter([_mid_exec(pid)] * 3)

    def exec_in_progress(pid: int) -> tuple[str, bytes] | None:
        return next(reads, None) or read_proc(pid)

    # As seen from another veil process, which did not start the node.
    assert LocalProcesses(proc=exec_in_progress).is_running(pid, root)
    # A command line that stays empty (a kernel thread on a recycled pid) is not the node.
    clock = SteppingClock()
    kthread = LocalProcesses(
        proc=lambda pid: ("1 (kthreadd) S 2", b""), clock=clock, exec_settle=0.05
    )
    assert not kthread.is_running(pid, root)
    assert clock.now_s >= 0.05


def test_pid_file_is_replaced_not_rewritten(fake_nodes: FakeNodes, package: Path) -> None:
    _spawn(fake_nodes, package)
    fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    paths = fake_nodes.paths("n1")
    assert read_pid(paths) == fake_nodes.manager.status("n1").pid
    assert sorted(p.name for p in paths.root.iterdir() if p.name.startswith(".node.pid")) == []


def test_wait_times_out_on_the_injected_clock(fake_nodes: FakeNodes, package: Path) -> None:
    fake_nodes.mode = "hang"
    clock = SteppingClock()
    manager = LocalNodeManager(fake_nodes.home, processes=fake_nodes.processes, clock=clock)
    manager.spawn(SpawnRequest(name="n1", package=package, backend="gramine-sgx"))
    with pytest.raises(StateTimeoutError, match=r"within 300 s \(it is no state yet\)"):
        manager.wait("n1", ("waiting",), timeout=300)
    assert clock.now_s >= 300


def test_stop_terminates_then_kills(fake_nodes: FakeNodes, package: Path) -> None:
    fake_nodes.mode = "stubborn"
    _spawn(fake_nodes, package)
    fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    start = time.monotonic()
    assert fake_nodes.manager.stop("n1", grace=0.3).was_running is True
    assert time.monotonic() - start >= 0.3  # SIGTERM was ignored for the whole grace period
    assert not fake_nodes.manager.status("n1").running
    assert fake_nodes.manager.stop("n1").was_running is False
    assert fake_nodes.manager.status("n1").display_state == "stopped"


def test_stop_remove_deletes_the_directory(fake_nodes: FakeNodes, package: Path) -> None:
    _spawn(fake_nodes, package)
    fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    result = fake_nodes.manager.stop("n1", grace=2, remove=True)
    assert result.to_json() == {"name": "n1", "was_running": True, "removed": True}
    assert not fake_nodes.paths("n1").root.exists()


def test_restart_starts_a_new_process_on_the_same_record(
    fake_nodes: FakeNodes, package: Path
) -> None:
    _spawn(fake_nodes, package)
    manager = fake_nodes.manager
    manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    first_pid = read_pid(fake_nodes.paths("n1"))
    instance = manager.status("n1").instance_id
    manager.restart("n1", grace=2)
    manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    assert read_pid(fake_nodes.paths("n1")) != first_pid
    assert manager.status("n1").instance_id == instance
    assert manager.status("n1").running


def test_recycled_pid_is_not_mistaken_for_the_node(fake_nodes: FakeNodes, package: Path) -> None:
    _spawn(fake_nodes, package)
    fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    # Our own pid is alive but is not this node: its command line does not name the node dir.
    assert not fake_nodes.processes.is_running(os.getpid(), fake_nodes.paths("n1").root)


def test_stop_removes_a_runtime_directory_left_by_a_killed_node(
    fake_nodes: FakeNodes, package: Path
) -> None:
    from veil.enclave.runtime_dir import runtime_base, runtime_dir_prefix

    _spawn(fake_nodes, package)
    fake_nodes.manager.wait("n1", ("waiting",), timeout=START_TIMEOUT)
    paths = fake_nodes.paths("n1")
    pid = read_pid(paths)
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # no chance to clean up
    deadline = time.monotonic() + 10
    while fake_nodes.manager.status("n1").running and time.monotonic() < deadline:
        time.sleep(0.02)
    # What a node killed while serving leaves: a runtime directory named after its pid.
    leftover = runtime_base() / f"{runtime_dir_prefix(paths.root)}{pid}-x"
    leftover.mkdir(mode=0o700)
    (leftover / "app.py").write_text("decrypted code")
    fake_nodes.manager.stop("n1", remove=True)
    assert not leftover.exists()
    assert not paths.root.exists()
