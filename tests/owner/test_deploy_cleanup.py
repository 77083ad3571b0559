"""A failed `veil deploy` leaves no deployment folder, and so no code key, behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.owner.conftest import NOTES
from veil.attestation.sources.interface import CollateralSource
from veil.errors import OperationError
from veil.host.evidence import CollectedEvidence
from veil.host.interface import (
    NodeNotFoundError,
    NodeStatus,
    SpawnRequest,
    StateTimeoutError,
    StopResult,
)
from veil.host.state import NodeState
from veil.owner.deploy import DeployOptions, deploy
from veil.owner.home import OwnerHome

OPTIONS = DeployOptions(name="broken", allow_simulated_insecure=True)


class FailingManager:
    """A ``NodeManager`` with no nodes, whose spawn runs ``on_spawn`` and whose nodes never
    come up."""

    def __init__(self, on_spawn: Callable[[SpawnRequest], None]) -> None:
        self.on_spawn = on_spawn
        self.spawned: list[SpawnRequest] = []
        self.stopped: list[str] = []

    def spawn(self, request: SpawnRequest) -> NodeStatus:
        self.on_spawn(request)
        self.spawned.append(request)
        return NodeStatus(
            name=request.name,
            host=request.host,
            port=1,
            backend=request.backend,
            instance_id="00" * 16,
            package=str(request.package),
            state=None,
            running=True,
        )

    def wait(
        self,
        name: str,
        targets: Sequence[str],
        *,
        timeout: float = 0,
        on_tick: Callable[[NodeState | None], None] | None = None,
    ) -> NodeState:
        raise StateTimeoutError(f"node {name!r} did not reach {targets[0]}")

    def stop(self, name: str, *, grace: float = 0, remove: bool = False) -> StopResult:
        self.stopped.append(name)
        return StopResult(name=name, was_running=True, removed=remove)

    def restart(self, name: str, *, grace: float = 0) -> NodeStatus:
        raise NotImplementedError

    def status(self, name: str) -> NodeStatus:
        raise NodeNotFoundError(f"no node named {name!r}")

    def list(self) -> list[NodeStatus]:
        return []

    def evidence(
        self,
        name: str,
        *,
        nonce: bytes | None = None,
        collateral_source: CollateralSource | None = None,
    ) -> CollectedEvidence:
        raise NotImplementedError

    def provision(self, name: str, envelope: bytes) -> None:
        raise NotImplementedError

    def logs(self, name: str, *, follow: bool = False) -> Iterator[str]:
        return iter(())


def _keys_under(root: Path) -> list[Path]:
    return list(root.rglob("*.key")) if root.exists() else []


def test_a_deploy_failing_at_spawn_leaves_no_folder() -> None:
    written: list[Path] = []

    def spawn_fails(request: SpawnRequest) -> None:
        written.extend(request.package.parent.iterdir())  # packaged, key written: now it fails
        raise OperationError("cannot start the node process")

    home = OwnerHome.from_env()
    with pytest.raises(OperationError):
        deploy(NOTES, OPTIONS, manager=FailingManager(spawn_fails), home=home)
    assert {p.name for p in written} >= {"app.veil", "code.key"}
    assert not home.deployment("broken").exists()
    assert not _keys_under(home.deployments)


def test_a_deploy_failing_after_spawn_leaves_no_folder_and_stops_the_node() -> None:
    def spawned(request: SpawnRequest) -> None:
        assert (request.package.parent / "code.key").is_file()

    home = OwnerHome.from_env()
    manager = FailingManager(spawned)
    with pytest.raises(StateTimeoutError):
        deploy(NOTES, OPTIONS, manager=manager, home=home)
    assert [r.name for r in manager.spawned] == manager.stopped == ["broken"]
    assert not home.deployment("broken").exists()


def test_deploy_keeps_the_owner_files_in_the_owner_home(tmp_path: Path) -> None:
    home = OwnerHome(tmp_path / "owner")
    seen: list[Path] = []
    with pytest.raises(StateTimeoutError):
        deploy(
            NOTES,
            OPTIONS,
            manager=FailingManager(lambda request: seen.append(request.package)),
            home=home,
        )
    assert seen == [home.deployment("broken") / "app.veil"]
