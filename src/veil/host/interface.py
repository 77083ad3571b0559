"""The ``NodeManager`` interface: what ``veil`` and a control plane ask of whatever runs nodes."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from veil.errors import ConfigError, OperationError
from veil.host.state import DEFAULT_SPAWN_TIMEOUT, DEFAULT_STOP_GRACE, NodeNotFoundError, NodeState

if TYPE_CHECKING:
    from veil.attestation.sources.interface import CollateralSource
    from veil.host.evidence import CollectedEvidence

__all__ = [
    "NameInUseError",
    "NodeExitedError",
    "NodeManager",
    "NodeNotFoundError",
    "NodeStatus",
    "PortInUseError",
    "SpawnRequest",
    "StateTimeoutError",
    "StopResult",
]


class NameInUseError(ConfigError):
    """A node of that name already exists."""


class PortInUseError(ConfigError):
    """Something already listens on the requested port."""


class NodeExitedError(OperationError):
    """The node process exited (or reported ``failed``) before reaching the awaited state."""


class StateTimeoutError(OperationError):
    """The node did not reach the awaited state in time."""


@dataclass(frozen=True, kw_only=True)
class SpawnRequest:
    """What a new node runs and where it listens."""

    name: str
    #: The encrypted package on the caller's machine (a remote manager uploads it).
    package: Path
    #: ``None``: a free port chosen by the manager.
    port: int | None = None
    host: str = "127.0.0.1"
    backend: str = "simulated"
    #: Extra names for the RA-TLS certificate, besides ``localhost`` and ``host``.
    san: Sequence[str] = ()
    #: Operator TLS scenario (untrusted): certificate and key files on the caller's machine.
    operator_tls: tuple[Path, Path] | None = None


@dataclass(frozen=True, kw_only=True)
class NodeStatus:
    """A node as the operator sees it: its record, its last reported state, whether it runs."""

    name: str
    host: str
    port: int
    backend: str
    instance_id: str
    #: The package as the node's host names it (shown, never opened by the caller).
    package: str
    #: What the node last reported, ``None`` before its first report.
    state: NodeState | None
    running: bool
    #: The node's process id where the manager has one (local processes).
    pid: int | None = None
    #: The node's directory when it lives on this machine (a local manager), else ``None``.
    node_dir: Path | None = None

    @property
    def display_state(self) -> str:
        if self.running:
            return self.state.state if self.state else "starting"
        if self.state is not None and self.state.state == "failed":
            return "failed"
        return "stopped"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "state": self.display_state,
            "reason": self.state.reason if self.state else None,
            "since": self.state.since.isoformat() if self.state else None,
            "running": self.running,
            "pid": self.pid if self.running else None,
            "url": self.url,
            "port": self.port,
            "backend": self.backend,
            "package": self.package,
            "instance_id": self.instance_id,
            "fingerprint": self.state.fingerprint if self.state else None,
        }


@dataclass(frozen=True, kw_only=True)
class StopResult:
    name: str
    was_running: bool
    removed: bool

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "was_running": self.was_running, "removed": self.removed}


class NodeManager(Protocol):
    """Spawns, stops, restarts, inspects, collects evidence from and provisions nodes.

    Implementations: :class:`veil.host.nodes.LocalNodeManager` (processes on this machine); a
    control plane or Kubernetes client implements the same methods (docs/adr/0016). Nodes are
    named, never addressed by path; errors come from veil's tree (``ConfigError`` for an unknown
    node or a taken name or port, ``OperationError`` for a node that exits or times out,
    ``ServiceError`` for an unreachable node). None of it verifies a node: the owner does.
    """

    def spawn(self, request: SpawnRequest) -> NodeStatus:
        """Create the node and start it; does not wait for it to come up (see ``wait``)."""
        ...

    def wait(
        self,
        name: str,
        targets: Sequence[str],
        *,
        timeout: float = DEFAULT_SPAWN_TIMEOUT,
        on_tick: Callable[[NodeState | None], None] | None = None,
    ) -> NodeState:
        """The node's state once it reports one of ``targets``; ``NodeExitedError`` if it
        fails or exits first, ``StateTimeoutError`` after ``timeout`` seconds."""
        ...

    def stop(
        self, name: str, *, grace: float = DEFAULT_STOP_GRACE, remove: bool = False
    ) -> StopResult:
        """Stop the node (forcibly after ``grace`` seconds); ``remove`` deletes its record,
        log and sealed data too."""
        ...

    def restart(self, name: str, *, grace: float = DEFAULT_STOP_GRACE) -> NodeStatus:
        """Stop the node if it runs and start it again on the same record (does not wait)."""
        ...

    def status(self, name: str) -> NodeStatus: ...

    def list(self) -> builtins.list[NodeStatus]:
        """Every node, sorted by name."""
        ...

    def evidence(
        self,
        name: str,
        *,
        nonce: bytes | None = None,
        collateral_source: CollateralSource | None = None,
    ) -> CollectedEvidence:
        """The node's evidence as served, with collateral from ``collateral_source`` for a
        hardware quote that carries none."""
        ...

    def provision(self, name: str, envelope: bytes) -> None:
        """Hand the node the sealed secrets; ``ProvisioningError`` when it refuses them."""
        ...

    def logs(self, name: str, *, follow: bool = False) -> Iterator[str]:
        """The node's log lines; with ``follow``, new ones until the node stops."""
        ...
