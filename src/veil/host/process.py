"""The OS side of local nodes: start a node process, tell whether it runs, signal it."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

from veil.errors import OperationError

__all__ = [
    "EXEC_SETTLE_SECONDS",
    "Clock",
    "LocalProcesses",
    "NodeCommand",
    "ProcReader",
    "ProcessLauncher",
    "SystemClock",
    "node_command",
    "read_proc",
    "system_processes",
]

#: How long a process whose ``/proc/PID/cmdline`` reads empty gets to show its command line.
#: Linux returns an empty command line while ``execve`` is half done (the new memory map is in
#: place, argv not yet): a node checked right after ``Popen`` returned looked exited (seen for
#: up to ~13 ms on a loaded 2-core machine). Kernel threads and exiting processes read empty
#: too, so the wait is bounded.
EXEC_SETTLE_SECONDS: Final = 2.0
_EXEC_SETTLE_POLL: Final = 0.002

#: The command that runs the node for a node directory.
NodeCommand = Callable[[Path], list[str]]
#: ``/proc/PID/stat`` and ``/proc/PID/cmdline`` of a pid, or ``None`` once the process is gone.
ProcReader = Callable[[int], "tuple[str, bytes] | None"]


class Clock(Protocol):
    """Time as the host side uses it: a monotonic clock to wait on, and the wall clock."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def now(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> datetime:
        return datetime.now(UTC)


class ProcessLauncher(Protocol):
    """Starts node processes and watches them by pid and node directory."""

    def start(self, node_dir: Path, *, log: Path) -> int:
        """Start the node for ``node_dir`` in a new session, output appended to ``log``."""
        ...

    def is_running(self, pid: int, node_dir: Path) -> bool:
        """Whether ``pid`` is alive and is the node of ``node_dir`` (not a recycled pid)."""
        ...

    def signal(self, pid: int, sig: signal.Signals) -> None:
        """Send ``sig`` to the node's process group (it leads its own session)."""
        ...

    def exit_code(self, pid: int) -> int | None:
        """The exit code of a node this launcher started and saw exit, else ``None``."""
        ...

    def release(self, pid: int) -> None:
        """Reap a stopped node this launcher started (no-op for others)."""
        ...


def node_command(node_dir: Path) -> list[str]:
    return [sys.executable, "-m", "veil.enclave", "--node-dir", str(node_dir)]


def read_proc(pid: int) -> tuple[str, bytes] | None:
    proc = Path("/proc") / str(pid)
    try:
        status = (proc / "stat").read_text(encoding="ascii", errors="replace")
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return None
    return status, cmdline


class LocalProcesses:
    """Node processes on this machine, started with ``command`` and watched through procfs."""

    def __init__(
        self,
        command: NodeCommand = node_command,
        *,
        proc: ProcReader = read_proc,
        clock: Clock | None = None,
        exec_settle: float = EXEC_SETTLE_SECONDS,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._command = command
        self._read_proc = proc
        self._clock = clock or SystemClock()
        self._exec_settle = exec_settle
        self._env = env
        # Popen objects of the nodes started here, with their node directories: kept so that
        # the children are reaped (and no "still running" ResourceWarning fires) when this
        # process lives on, as in tests, and because an unreaped child's pid cannot have been
        # recycled.
        self._children: dict[int, tuple[Path, subprocess.Popen[bytes]]] = {}
        self._exit_codes: dict[int, int] = {}

    def start(self, node_dir: Path, *, log: Path) -> int:
        env = dict(os.environ if self._env is None else self._env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with log.open("ab") as out:
            try:
                # A new session: the node survives this CLI exiting and its terminal closing.
                proc = subprocess.Popen(
                    self._command(node_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                    env=env,
                    cwd=node_dir,
                )
            except OSError as e:
                raise OperationError(f"cannot start the node process: {e.strerror or e}") from e
        self._children[proc.pid] = (node_dir, proc)
        return proc.pid

    def is_running(self, pid: int, node_dir: Path) -> bool:
        started = self._children.get(pid)
        if started is not None and started[0] == node_dir:
            child = started[1]
            if child.poll() is None:
                return True  # our own child, not reaped yet: its pid cannot have been recycled
            del self._children[pid]
            self._exit_codes[pid] = child.returncode
            return False
        return self._is_node_process(pid, node_dir)

    def _is_node_process(self, pid: int, node_dir: Path) -> bool:
        """Whether ``pid`` is a live process whose command line names the node directory."""
        settle_deadline: float | None = None
        while True:
            try:
                os.kill(pid, 0)
            except (ProcessLookupError, PermissionError):
                return False
            if not Path("/proc").is_dir():
                return True  # no procfs: the signal check is all we have
            read = self._read_proc(pid)
            if read is None:
                return False
            status, cmdline = read
            # "pid (comm) S ..." — a zombie has exited; only its exit status is left to collect.
            if status.rpartition(")")[2].split()[:1] == ["Z"]:
                return False
            if cmdline:
                return os.fsencode(str(node_dir)) in cmdline.split(b"\0")
            now = self._clock.monotonic()
            if settle_deadline is None:
                settle_deadline = now + self._exec_settle
            elif now >= settle_deadline:
                return False
            self._clock.sleep(_EXEC_SETTLE_POLL)

    def signal(self, pid: int, sig: signal.Signals) -> None:
        # The node leads its own session (start_new_session): signal its whole process group
        # so that any worker it started goes too.
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def exit_code(self, pid: int) -> int | None:
        return self._exit_codes.get(pid)

    def release(self, pid: int) -> None:
        started = self._children.pop(pid, None)
        if started is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                started[1].wait(timeout=1.0)


@functools.cache
def system_processes() -> LocalProcesses:
    """The launcher of this Python process's node children.

    One per process, like the children it tracks: every manager built in a long-lived process
    (tests, a control plane) then reaps what another one started.
    """
    return LocalProcesses()
