"""Errors the enclave node raises, as subclasses of veil's one error tree."""

from __future__ import annotations

from veil.errors import OperationError, ProvisioningError

__all__ = [
    "NodeStartError",
    "NotWaitingError",
    "PackageCorruptedError",
    "ProvisioningRejectedError",
]


class ProvisioningRejectedError(ProvisioningError):
    """Sealed secrets did not open or did not prove they come from the owner (HTTP 403).

    Deliberately one message whatever the cause, so that refusals are no oracle.
    """

    def __init__(self) -> None:
        super().__init__("sealed secrets rejected")


class PackageCorruptedError(ProvisioningError):
    """The owner's code key arrived, but the package file does not decrypt under it to the app
    the node was attested with: the file is corrupted or was swapped since the node started
    (HTTP 422). Not an oracle: see :meth:`veil.enclave.provisioning.Authenticator._decrypt`."""

    def __init__(self) -> None:
        super().__init__(
            "the package file is corrupted or was swapped since the node started: the owner's "
            "code key does not decrypt it to the attested app"
        )


class NotWaitingError(ProvisioningError):
    """Provisioning was attempted while the node is not waiting for secrets (HTTP 409)."""


class NodeStartError(OperationError):
    """The node could not start: unreadable spec or package, backend or server failure."""
