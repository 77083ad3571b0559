"""A failed `veil deploy` leaves no deployment folder, and so no code key, behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.owner.conftest import NOTES
from veil.errors import OperationError
from veil.host.state import NodePaths, deployment_dir, node_paths
from veil.host.supervisor import StateTimeoutError
from veil.owner import deploy as deploy_module
from veil.owner.deploy import DeployOptions, deploy

OPTIONS = DeployOptions(name="broken", allow_simulated_insecure=True)


def _keys_under(root: Path) -> list[Path]:
    return list(root.rglob("*.key")) if root.exists() else []


def test_a_deploy_failing_at_spawn_leaves_no_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[Path] = []

    def spawn_fails(package: Path, **kwargs: object) -> NodePaths:
        written.extend(package.parent.iterdir())  # packaged, key written: now it fails
        raise OperationError("cannot start the node process")

    monkeypatch.setattr(deploy_module, "spawn_node", spawn_fails)
    with pytest.raises(OperationError):
        deploy(NOTES, OPTIONS)
    assert {p.name for p in written} >= {"app.veil", "code.key"}
    assert not deployment_dir("broken").exists()
    assert not _keys_under(deployment_dir("broken").parent)


def test_a_deploy_failing_after_spawn_leaves_no_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    def spawned(package: Path, *, name: str, **kwargs: object) -> NodePaths:
        assert (package.parent / "code.key").is_file()
        return node_paths(name)

    def never_waiting(paths: NodePaths, targets: object, **kwargs: object) -> None:
        raise StateTimeoutError(f"node {paths.name!r} did not reach waiting")

    monkeypatch.setattr(deploy_module, "spawn_node", spawned)
    monkeypatch.setattr(deploy_module, "wait_for_state", never_waiting)
    with pytest.raises(StateTimeoutError):
        deploy(NOTES, OPTIONS)
    assert not deployment_dir("broken").exists()
