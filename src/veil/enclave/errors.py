"""Errors the enclave node raises, as subclasses of veil's one error tree."""

from __future__ import annotations

from veil.errors import OperationError, ProvisioningError

__all__ = ["NodeStartError", "NotWaitingError", "ProvisioningRejectedError"]


class ProvisioningRejectedError(ProvisioningError):
    """Sealed secrets did not open or did not prove they come from the owner (HTTP 403).

    Deliberately one message whatever the cause, so that refusals are no oracle.
    """

    def __init__(self) -> None:
        super().__init__("sealed secrets rejected")


class NotWaitingError(ProvisioningError):
    """Provisioning was attempted while the node is not waiting for secrets (HTTP 409)."""


class NodeStartError(OperationError):
    """The node could not start: unreadable spec or package, backend or server failure."""
