"""veil.enclave: the node that runs inside the TEE — attest, take provisioning, serve the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.enclave.errors import (
        NodeStartError,
        NotWaitingError,
        PackageCorruptedError,
        ProvisioningRejectedError,
    )
    from veil.enclave.instance import EnclaveInstance
    from veil.enclave.node import Node, run
    from veil.enclave.spec import NodeSpec, NodeSpecError, OperatorTls
    from veil.enclave.storage import SealedDirectory

__all__ = [
    "EnclaveInstance",
    "Node",
    "NodeSpec",
    "NodeSpecError",
    "NodeStartError",
    "NotWaitingError",
    "OperatorTls",
    "PackageCorruptedError",
    "ProvisioningRejectedError",
    "SealedDirectory",
    "run",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "errors": (
            "NodeStartError",
            "NotWaitingError",
            "PackageCorruptedError",
            "ProvisioningRejectedError",
        ),
        "instance": ("EnclaveInstance",),
        "node": ("Node", "run"),
        "spec": ("NodeSpec", "NodeSpecError", "OperatorTls"),
        "storage": ("SealedDirectory",),
    },
)
