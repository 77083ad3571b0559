"""Where the CLI gets its node manager and homes: the one place that picks an implementation."""

from __future__ import annotations

from veil.host.homes import OperatorHome
from veil.host.interface import NodeManager
from veil.host.nodes import LocalNodeManager

__all__ = ["node_manager", "operator_home"]


def operator_home() -> OperatorHome:
    return OperatorHome.from_env()


def node_manager() -> NodeManager:
    """Nodes as processes on this machine, under ``$VEIL_HOME``.

    Tests replace this function to run fake nodes; a control-plane client would be chosen here.
    """
    return LocalNodeManager(operator_home())
