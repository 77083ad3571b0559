"""``veil deploy`` pins the simulation root of the manager that runs the node."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from veil.host.homes import OperatorHome
from veil.host.interface import NodeManager
from veil.host.nodes import LocalNodeManager
from veil.host.simulation import simulation_root_public_key
from veil.owner._deploy_steps import _simulation_root
from veil.owner.deploy import DeployOptions


def test_a_local_manager_pins_its_own_homes_root(tmp_path: Path) -> None:
    """Not ``$VEIL_HOME``'s: a manager given another home signs with that home's root."""
    home = OperatorHome(tmp_path / "operator")
    manager = LocalNodeManager(home)
    pinned = _simulation_root(DeployOptions(), manager)
    assert pinned == simulation_root_public_key(home)
    assert pinned != simulation_root_public_key(OperatorHome.from_env())


def test_a_remote_manager_pins_no_local_root() -> None:
    remote = cast(NodeManager, object())
    assert _simulation_root(DeployOptions(), remote) is None


def test_hardware_backends_pin_no_simulation_root(tmp_path: Path) -> None:
    manager = LocalNodeManager(OperatorHome(tmp_path))
    assert _simulation_root(DeployOptions(backend="gramine-sgx"), manager) is None
