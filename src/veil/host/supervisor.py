"""Start, watch and stop enclave node processes on the operator's machine."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from veil.enclave.runtime_dir import remove_stale_runtime_dirs
from veil.enclave.spec import NodeSpec
from veil.errors import ConfigError, FormatError, OperationError
from veil.host.state import (
    DEFAULT_SPAWN_TIMEOUT,
    DEFAULT_STOP_GRACE,
    NodePaths,
    NodeState,
    deployment_dir,
    existing_node,
    list_node_names,
    node_paths,
    read_node_state,
    read_pid,
)

__all__ = [
    "DEFAULT_SPAWN_TIMEOUT",
    "DEFAULT_STOP_GRACE",
    "NameInUseError",
    "NodeExitedError",
    "NodeInfo",
    "PortInUseError",
    "StateTimeoutError",
    "check_backend_name",
    "follow_log",
    "free_port",
    "is_running",
    "list_nodes",
    "log_tail",
    "node_info",
    "read_spec",
    "restart_node",
    "spawn_node",
    "start_node",
    "stop_node",
    "wait_for_state",
]

_POLL_INTERVAL: Final = 0.02
#: How long a process whose ``/proc/PID/cmdline`` reads empty gets to show its command line.
#: Linux returns an empty command line while ``execve`` is half done (the new memory map is in
#: place, argv not yet): a node checked right after ``Popen`` returned looked exited (seen for
#: up to ~13 ms on a loaded 2-core machine). Kernel threads and exiting processes read empty
#: too, so the wait is bounded.
_EXEC_SETTLE_SECONDS: Final = 2.0
_EXEC_SETTLE_POLL: Final = 0.002
_LOG_TAIL_BYTES: Final = 4096

#: Popen objects of nodes this process started, with their node directories: kept so that the
#: children are reaped (and no "still running" ResourceWarning fires) when this process lives
#: on, as in tests, and because an unreaped child's pid cannot have been recycled.
_children: dict[int, tuple[Path, subprocess.Popen[bytes]]] = {}
#: Exit codes of those children once reaped, for error messages.
_exit_codes: dict[int, int] = {}


class NameInUseError(ConfigError):
    """A node of that name already exists."""


class PortInUseError(ConfigError):
    """Something already listens on the requested port."""


class NodeExitedError(OperationError):
    """The node process exited (or reported ``failed``) before reaching the awaited state."""


class StateTimeoutError(OperationError):
    """The node did not reach the awaited state in time."""


@dataclass(frozen=True)
class NodeInfo:
    """A node as the operator sees it: its record, its last reported state, whether it runs."""

    name: str
    spec: NodeSpec
    state: NodeState | None
    pid: int | None
    running: bool

    @property
    def display_state(self) -> str:
        if self.running:
            return self.state.state if self.state else "starting"
        if self.state is not None and self.state.state == "failed":
            return "failed"
        return "stopped"

    @property
    def url(self) -> str:
        return f"https://{_url_host(self.spec.host)}:{self.spec.port}"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "state": self.display_state,
            "reason": self.state.reason if self.state else None,
            "since": self.state.since.isoformat() if self.state else None,
            "running": self.running,
            "pid": self.pid if self.running else None,
            "url": self.url,
            "port": self.spec.port,
            "backend": self.spec.backend,
            "package": str(self.spec.package),
            "instance_id": self.spec.instance_id,
            "fingerprint": self.state.fingerprint if self.state else None,
        }


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (it may be taken before we bind it)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _check_port_free(host: str, port: int) -> None:
    for name in list_node_names():
        info = node_info(name)
        if info.running and info.spec.port == port:
            raise PortInUseError(f"port {port} is used by node {name!r}")
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        # uvicorn binds with SO_REUSEADDR too, so only a live listener counts as "in use".
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(f"port {port} on {host} is already in use") from e
            raise ConfigError(f"cannot bind {host}:{port}: {e.strerror or e}") from e


def read_spec(paths: NodePaths) -> NodeSpec:
    return NodeSpec.read(paths.root)


def is_running(paths: NodePaths, pid: int | None = None) -> bool:
    """Whether the node's process is alive (and is this node, not a recycled pid)."""
    pid = read_pid(paths) if pid is None else pid
    if pid is None:
        return False
    started = _children.get(pid)
    if started is not None and started[0] == paths.root:
        child = started[1]
        if child.poll() is None:
            return True  # our own child, not reaped yet: its pid cannot have been recycled
        del _children[pid]
        _exit_codes[pid] = child.returncode
        return False
    return _is_node_process(pid, paths.root)


def _is_node_process(pid: int, root: Path) -> bool:
    """Whether ``pid`` is a live process whose command line names the node directory."""
    settle_deadline: float | None = None
    while True:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        proc = Path("/proc") / str(pid)
        if not proc.is_dir():
            return True  # no procfs: the signal check is all we have
        read = _read_proc(proc)
        if read is None:
            return False
        status, cmdline = read
        # "pid (comm) S ..." — a zombie has exited; only its exit status is left to collect.
        if status.rpartition(")")[2].split()[:1] == ["Z"]:
            return False
        if cmdline:
            return os.fsencode(str(root)) in cmdline.split(b"\0")
        now = time.monotonic()
        if settle_deadline is None:
            settle_deadline = now + _EXEC_SETTLE_SECONDS
        elif now >= settle_deadline:
            return False
        time.sleep(_EXEC_SETTLE_POLL)


def _read_proc(proc: Path) -> tuple[str, bytes] | None:
    """``/proc/PID/stat`` and ``/proc/PID/cmdline``, or ``None`` once the process is gone."""
    try:
        status = (proc / "stat").read_text(encoding="ascii", errors="replace")
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return None
    return status, cmdline


def node_info(name: str) -> NodeInfo:
    paths = existing_node(name)
    pid = read_pid(paths)
    return NodeInfo(
        name=name,
        spec=read_spec(paths),
        state=read_node_state(paths),
        pid=pid,
        running=is_running(paths, pid),
    )


def list_nodes() -> list[NodeInfo]:
    infos = []
    for name in list_node_names():
        with contextlib.suppress(ConfigError):  # a directory without node.json is not a node
            infos.append(node_info(name))
    return infos


def _node_command(paths: NodePaths) -> list[str]:
    return [sys.executable, "-m", "veil.enclave", "--node-dir", str(paths.root)]


def start_node(paths: NodePaths) -> int:
    """Start the node process for an existing node directory, detached from this process."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    paths.state.unlink(missing_ok=True)  # a stale state from a previous run must not satisfy a wait
    with paths.log.open("ab") as log:
        try:
            # A new session: the node survives this CLI exiting and its terminal closing.
            proc = subprocess.Popen(
                _node_command(paths),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env=env,
                cwd=paths.root,
            )
        except OSError as e:
            raise OperationError(f"cannot start the node process: {e.strerror or e}") from e
    _children[proc.pid] = (paths.root, proc)
    _write_pid(paths, proc.pid)
    return proc.pid


def _write_pid(paths: NodePaths, pid: int) -> None:
    # Replaced, not rewritten in place: `veil status` in another process must never read a
    # truncated pid file.
    tmp = paths.root / f".{paths.pid.name}.{os.getpid()}.tmp"
    tmp.write_text(f"{pid}\n", encoding="ascii")
    os.replace(tmp, paths.pid)


def spawn_node(
    package: Path,
    *,
    name: str,
    port: int | None = None,
    host: str = "127.0.0.1",
    backend: str = "simulated",
    san: Sequence[str] = (),
    operator_tls: tuple[Path, Path] | None = None,
) -> NodePaths:
    """Create the node directory for ``package`` and start its node (does not wait)."""
    paths = node_paths(name)
    if paths.root.exists():
        raise NameInUseError(
            f"a node named {name!r} already exists; pick another name, "
            f"`veil restart {name}`, or `veil stop {name} --remove`"
        )
    check_backend_name(backend)
    package = package.expanduser().resolve()
    if not package.is_file():
        raise ConfigError(f"package {package} not found")
    if port is None:
        port = free_port(host)
    else:
        _check_port_free(host, port)
    if backend == "simulated":
        from veil.host.simulation import simulated_backend_options  # noqa: PLC0415

        backend_options: dict[str, str] = simulated_backend_options()
    else:
        backend_options = {}
    names = list(dict.fromkeys(["localhost", host, *san]))
    spec_json: dict[str, object] = {
        "format": "veil-node",
        "version": 1,
        "name": name,
        "instance_id": secrets.token_hex(16),
        "package": str(package),
        "host": host,
        "port": port,
        "backend": backend,
        "backend_options": backend_options,
        "san": names,
        "tls_scenario_override": "operator" if operator_tls else None,
        "operator_tls": (
            {
                "certificate": str(operator_tls[0].expanduser().resolve()),
                "private_key": str(operator_tls[1].expanduser().resolve()),
            }
            if operator_tls
            else None
        ),
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    try:
        spec = NodeSpec.from_json(json.dumps(spec_json).encode())
    except FormatError as e:
        raise ConfigError(f"invalid node parameters: {e}") from e
    paths.root.parent.mkdir(parents=True, exist_ok=True)
    try:
        paths.root.mkdir(mode=0o700)
    except FileExistsError as e:
        raise NameInUseError(f"a node named {name!r} already exists") from e
    paths.spec.write_bytes(spec.to_json())
    start_node(paths)
    return paths


def wait_for_state(
    paths: NodePaths,
    targets: Sequence[str],
    *,
    timeout: float = DEFAULT_SPAWN_TIMEOUT,
    on_tick: Callable[[NodeState | None], None] | None = None,
) -> NodeState:
    """Poll ``state.json`` until the node reports one of ``targets``.

    Raises ``NodeExitedError`` (with the end of ``node.log``) if the node reports ``failed``
    or its process exits first, and ``StateTimeoutError`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        state = _read_state_quietly(paths)
        if on_tick is not None:
            on_tick(state)
        if state is not None and state.state in targets:
            return state
        if state is not None and state.state == "failed":
            raise NodeExitedError(
                f"node {paths.name!r} failed: {state.reason or 'no reason given'}"
                + _log_hint(paths)
            )
        if not is_running(paths):
            state = _read_state_quietly(paths)
            if state is not None and state.state in targets:
                return state
            raise NodeExitedError(
                f"node {paths.name!r} exited{_exit_status(paths)}" + _log_hint(paths)
            )
        if time.monotonic() >= deadline:
            current = state.state if state else "no state yet"
            raise StateTimeoutError(
                f"node {paths.name!r} did not reach {' or '.join(targets)} within "
                f"{timeout:g} s (it is {current})"
            )
        time.sleep(_POLL_INTERVAL)


def _exit_status(paths: NodePaths) -> str:
    pid = read_pid(paths)
    code = _exit_codes.get(pid) if pid is not None else None
    if code is None:
        return ""
    if code < 0:
        try:
            return f" (killed by {signal.Signals(-code).name})"
        except ValueError:
            return f" (killed by signal {-code})"
    return f" (exit code {code})"


def _read_state_quietly(paths: NodePaths) -> NodeState | None:
    # The node replaces state.json atomically, but tolerate a reader racing a first write.
    try:
        return read_node_state(paths)
    except FormatError:
        return None


#: Log lines quoted in a node error: its reason line is usually the last; errors are one line.
_HINT_LINES: Final = 5


def _log_hint(paths: NodePaths) -> str:
    lines = [line.strip() for line in log_tail(paths).splitlines() if line.strip()]
    if not lines:
        return ""
    return f"; last lines of its log (veil logs {paths.name}): " + " | ".join(lines[-_HINT_LINES:])


def log_tail(paths: NodePaths, max_bytes: int = _LOG_TAIL_BYTES) -> str:
    try:
        with paths.log.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-15:])


def follow_log(
    paths: NodePaths, *, follow: bool, poll: float = 0.2, stop: Callable[[], bool] | None = None
) -> Iterator[str]:
    """Yield the node's log lines; with ``follow``, keep yielding new ones as they come."""
    try:
        f = paths.log.open("rb")
    except FileNotFoundError:
        return
    with f:
        pending = b""
        while True:
            chunk = f.read(64 * 1024)
            if chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", errors="replace")
                continue
            if not follow or (stop is not None and stop()):
                if pending:
                    yield pending.decode("utf-8", errors="replace")
                return
            time.sleep(poll)


def stop_node(name: str, *, grace: float = DEFAULT_STOP_GRACE, remove: bool = False) -> bool:
    """SIGTERM the node, SIGKILL it after ``grace`` seconds; True if it was running.

    With ``remove``, the node directory (its record, log and sealed data) is deleted too.
    """
    paths = existing_node(name)
    pid = read_pid(paths)
    was_running = pid is not None and is_running(paths, pid)
    if pid is not None and was_running:
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while is_running(paths, pid) and time.monotonic() < deadline:
            time.sleep(_POLL_INTERVAL)
        if is_running(paths, pid):
            _signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while is_running(paths, pid) and time.monotonic() < deadline:
                time.sleep(_POLL_INTERVAL)
        started = _children.pop(pid, None)
        if started is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                started[1].wait(timeout=1.0)
    # A node killed before it could clean up leaves its runtime directory (decrypted app code)
    # behind; it is removed here, once the node's process is gone, not only at its next start.
    remove_stale_runtime_dirs(paths.root)
    if remove:
        shutil.rmtree(paths.root, ignore_errors=True)
        # What `veil deploy` kept for this node holds the package's code key: a removed node
        # must not leave a secret behind.
        shutil.rmtree(deployment_dir(name), ignore_errors=True)
    return was_running


def check_backend_name(backend: str) -> str:
    """``backend`` if veil has such a backend; ``ConfigError`` before anything is created."""
    from veil.identity.measurement import BACKEND_NAMES  # noqa: PLC0415 - only spawn needs it

    if backend not in BACKEND_NAMES:
        raise ConfigError(
            f"unknown backend {backend!r} (--backend): use one of {', '.join(BACKEND_NAMES)}"
        )
    return backend


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The node leads its own session (start_new_session): signal its whole process group so
    # that any worker it started goes too.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def restart_node(name: str, *, grace: float = DEFAULT_STOP_GRACE) -> NodePaths:
    """Stop the node if it runs and start it again from the same directory (does not wait)."""
    paths = existing_node(name)
    stop_node(name, grace=grace)
    spec = read_spec(paths)
    _check_port_free(spec.host, spec.port)
    start_node(paths)
    return paths
