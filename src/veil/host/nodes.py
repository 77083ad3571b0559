"""``LocalNodeManager``: nodes as processes on this machine, one directory each."""

from __future__ import annotations

import builtins
import contextlib
import os
import secrets
import shutil
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Final, Protocol

from veil.enclave.runtime_dir import remove_stale_runtime_dirs
from veil.enclave.spec import NodeSpec
from veil.errors import ConfigError, FormatError, OperationError
from veil.host.homes import OperatorHome
from veil.host.interface import (
    NameInUseError,
    NodeExitedError,
    NodeStatus,
    SpawnRequest,
    StateTimeoutError,
    StopResult,
)
from veil.host.logs import follow_log, log_hint
from veil.host.node_spec import build_node_spec, check_backend_name, check_port_free, free_port
from veil.host.process import Clock, ProcessLauncher, SystemClock, system_processes
from veil.host.state import (
    DEFAULT_SPAWN_TIMEOUT,
    DEFAULT_STOP_GRACE,
    NodePaths,
    NodeState,
    read_node_state,
    read_pid,
)

if TYPE_CHECKING:
    from veil.attestation.sources.interface import CollateralSource
    from veil.host.evidence import CollectedEvidence

__all__ = ["LocalNodeManager", "NodeBootstrap"]

_POLL_INTERVAL: Final = 0.02
#: ``wait`` polls every 5 ms for its first 2 s: a node boots and loads an app in under a second,
#: and a deploy waits on it twice, each time losing half a poll interval on average. Later
#: polls (a slow app) fall back to ``_POLL_INTERVAL``.
_FAST_POLL_INTERVAL: Final = 0.005
_FAST_POLL_SECONDS: Final = 2.0
#: How long a node gets to go after SIGKILL before ``stop`` gives up waiting for it.
_KILL_WAIT: Final = 5.0


class NodeBootstrap(Protocol):
    """A node's bootstrap API (``/_veil/…``); :class:`veil.host.bootstrap.BootstrapClient`."""

    def evidence(self, *, nonce: bytes | None = None) -> bytes: ...

    def provision(self, envelope: bytes) -> None: ...


def _bootstrap_client(url: str) -> NodeBootstrap:
    # Imported on use: spawning (and `veil deploy` while its node boots) needs no HTTP client.
    from veil.host.bootstrap import BootstrapClient  # noqa: PLC0415

    return BootstrapClient(url)


class LocalNodeManager:
    """A :class:`~veil.host.interface.NodeManager` over ``home``'s node directories, whose
    nodes ``processes`` starts and watches, reached over HTTPS through ``bootstrap``."""

    def __init__(
        self,
        home: OperatorHome,
        *,
        processes: ProcessLauncher | None = None,
        clock: Clock | None = None,
        bootstrap: Callable[[str], NodeBootstrap] = _bootstrap_client,
    ) -> None:
        self.home = home
        self._processes = processes or system_processes()
        self._clock = clock or SystemClock()
        self._bootstrap = bootstrap

    @classmethod
    def from_env(cls) -> LocalNodeManager:
        """The manager of ``$VEIL_HOME`` (see :meth:`OperatorHome.from_env`)."""
        return cls(OperatorHome.from_env())

    # -- inspecting -------------------------------------------------------------------------

    def _running(self, paths: NodePaths, pid: int | None = None) -> bool:
        pid = read_pid(paths) if pid is None else pid
        return pid is not None and self._processes.is_running(pid, paths.root)

    def _status(self, paths: NodePaths) -> NodeStatus:
        spec = NodeSpec.read(paths.root)
        pid = read_pid(paths)
        return NodeStatus(
            name=paths.name,
            host=spec.host,
            port=spec.port,
            backend=spec.backend,
            instance_id=spec.instance_id,
            package=str(spec.package),
            state=read_node_state(paths),
            running=self._running(paths, pid),
            pid=pid,
            node_dir=paths.root,
        )

    def status(self, name: str) -> NodeStatus:
        return self._status(self.home.existing_node(name))

    def list(self) -> builtins.list[NodeStatus]:
        found = []
        for name in self.home.node_names():
            with contextlib.suppress(ConfigError):  # a directory without node.json is not a node
                found.append(self.status(name))
        return found

    # -- lifecycle --------------------------------------------------------------------------

    def spawn(self, request: SpawnRequest) -> NodeStatus:
        paths = self.home.node(request.name)
        if paths.root.exists():
            raise NameInUseError(
                f"a node named {request.name!r} already exists; pick another name, "
                f"`veil restart {request.name}`, or `veil stop {request.name} --remove`"
            )
        check_backend_name(request.backend)
        if not request.package.expanduser().resolve().is_file():
            raise ConfigError(f"package {request.package.expanduser().resolve()} not found")
        if request.port is None:
            port = free_port(request.host)
        else:
            port = request.port
            check_port_free(request.host, port, self.list())
        spec = build_node_spec(
            request,
            port=port,
            instance_id=secrets.token_hex(16),
            backend_options=self._backend_options(request.backend),
            created_at=self._clock.now(),
        )
        paths.root.parent.mkdir(parents=True, exist_ok=True)
        try:
            paths.root.mkdir(mode=0o700)
        except FileExistsError as e:
            raise NameInUseError(f"a node named {request.name!r} already exists") from e
        paths.spec.write_bytes(spec.to_json())
        self._start(paths)
        return self._status(paths)

    def _backend_options(self, backend: str) -> dict[str, str]:
        if backend != "simulated":
            return {}
        from veil.host.simulation import simulated_backend_options  # noqa: PLC0415

        return simulated_backend_options(self.home)

    def _start(self, paths: NodePaths) -> None:
        paths.state.unlink(
            missing_ok=True
        )  # a stale state from a previous run must not satisfy a wait
        pid = self._processes.start(paths.root, log=paths.log)
        # Replaced, not rewritten in place: `veil status` in another process must never read a
        # truncated pid file.
        tmp = paths.root / f".{paths.pid.name}.{os.getpid()}.tmp"
        tmp.write_text(f"{pid}\n", encoding="ascii")
        os.replace(tmp, paths.pid)

    def wait(
        self,
        name: str,
        targets: Sequence[str],
        *,
        timeout: float = DEFAULT_SPAWN_TIMEOUT,
        on_tick: Callable[[NodeState | None], None] | None = None,
    ) -> NodeState:
        paths = self.home.existing_node(name)
        started = self._clock.monotonic()
        deadline = started + timeout
        while True:
            state = _read_state_quietly(paths)
            if on_tick is not None:
                on_tick(state)
            if state is not None and state.state in targets:
                return state
            if state is not None and state.state == "failed":
                raise NodeExitedError(
                    f"node {name!r} failed: {state.reason or 'no reason given'}"
                    + log_hint(paths.log, name)
                )
            if not self._running(paths):
                state = _read_state_quietly(paths)
                if state is not None and state.state in targets:
                    return state
                raise NodeExitedError(
                    f"node {name!r} exited{self._exit_status(paths)}" + log_hint(paths.log, name)
                )
            if self._clock.monotonic() >= deadline:
                current = state.state if state else "no state yet"
                raise StateTimeoutError(
                    f"node {name!r} did not reach {' or '.join(targets)} within "
                    f"{timeout:g} s (it is {current})"
                )
            fast = self._clock.monotonic() - started < _FAST_POLL_SECONDS
            self._clock.sleep(_FAST_POLL_INTERVAL if fast else _POLL_INTERVAL)

    def _exit_status(self, paths: NodePaths) -> str:
        pid = read_pid(paths)
        code = self._processes.exit_code(pid) if pid is not None else None
        if code is None:
            return ""
        if code < 0:
            try:
                return f" (killed by {signal.Signals(-code).name})"
            except ValueError:
                return f" (killed by signal {-code})"
        return f" (exit code {code})"

    def stop(
        self, name: str, *, grace: float = DEFAULT_STOP_GRACE, remove: bool = False
    ) -> StopResult:
        paths = self.home.existing_node(name)
        pid = read_pid(paths)
        was_running = pid is not None and self._running(paths, pid)
        if pid is not None and was_running:
            self._processes.signal(pid, signal.SIGTERM)
            if not self._gone_within(paths, pid, grace):
                self._processes.signal(pid, signal.SIGKILL)
                self._gone_within(paths, pid, _KILL_WAIT)
            self._processes.release(pid)
        # A node killed before it could clean up leaves its runtime directory (decrypted app
        # code) behind; it is removed here, once the node's process is gone, not only at its
        # next start.
        remove_stale_runtime_dirs(paths.root)
        if remove:
            shutil.rmtree(paths.root, ignore_errors=True)
        return StopResult(name=name, was_running=was_running, removed=remove)

    def _gone_within(self, paths: NodePaths, pid: int, seconds: float) -> bool:
        deadline = self._clock.monotonic() + seconds
        while self._running(paths, pid):
            if self._clock.monotonic() >= deadline:
                return False
            self._clock.sleep(_POLL_INTERVAL)
        return True

    def restart(self, name: str, *, grace: float = DEFAULT_STOP_GRACE) -> NodeStatus:
        paths = self.home.existing_node(name)
        self.stop(name, grace=grace)
        spec = NodeSpec.read(paths.root)
        check_port_free(spec.host, spec.port, self.list())
        self._start(paths)
        return self._status(paths)

    # -- talking to the node ----------------------------------------------------------------

    def evidence(
        self,
        name: str,
        *,
        nonce: bytes | None = None,
        collateral_source: CollateralSource | None = None,
    ) -> CollectedEvidence:
        from veil.host.evidence import complete_evidence  # noqa: PLC0415 - see _bootstrap_client

        raw = self._bootstrap(self.status(name).url).evidence(nonce=nonce)
        return complete_evidence(raw, collateral_source, now=self._clock.now())

    def provision(self, name: str, envelope: bytes) -> None:
        node = self.status(name)
        if not node.running:
            raise OperationError(f"node {name!r} is not running")
        self._bootstrap(node.url).provision(envelope)

    def logs(self, name: str, *, follow: bool = False) -> Iterator[str]:
        paths = self.home.existing_node(name)
        return follow_log(
            paths.log,
            follow=follow,
            stop=lambda: not self._running(paths),
            sleep=self._clock.sleep,
        )


def _read_state_quietly(paths: NodePaths) -> NodeState | None:
    # The node replaces state.json atomically, but tolerate a reader racing a first write.
    try:
        return read_node_state(paths)
    except FormatError:
        return None
