"""veil.host: what the operator's machine runs — start, watch and stop enclave nodes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.host.bootstrap import BootstrapClient, ProvisioningRefusedError
    from veil.host.homes import OperatorHome
    from veil.host.interface import (
        NameInUseError,
        NodeExitedError,
        NodeManager,
        NodeNotFoundError,
        NodeStatus,
        PortInUseError,
        SpawnRequest,
        StateTimeoutError,
        StopResult,
    )
    from veil.host.nodes import LocalNodeManager

__all__ = [
    "BootstrapClient",
    "LocalNodeManager",
    "NameInUseError",
    "NodeExitedError",
    "NodeManager",
    "NodeNotFoundError",
    "NodeStatus",
    "OperatorHome",
    "PortInUseError",
    "ProvisioningRefusedError",
    "SpawnRequest",
    "StateTimeoutError",
    "StopResult",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "bootstrap": ("BootstrapClient", "ProvisioningRefusedError"),
        "homes": ("OperatorHome",),
        "interface": (
            "NameInUseError",
            "NodeExitedError",
            "NodeManager",
            "NodeNotFoundError",
            "NodeStatus",
            "PortInUseError",
            "SpawnRequest",
            "StateTimeoutError",
            "StopResult",
        ),
        "nodes": ("LocalNodeManager",),
    },
)
