"""veil.client: what an app's users run — check that a server is the expected attested app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.client.expect import ExpectedApp, pinned_runtime
    from veil.client.http import AttestedClient, UntrustedChannelError
    from veil.client.verify import (
        OperatorTlsRefusedError,
        Scenario,
        ServerVerification,
        UnattestedTlsError,
        verify_server,
    )

__all__ = [
    "AttestedClient",
    "ExpectedApp",
    "OperatorTlsRefusedError",
    "Scenario",
    "ServerVerification",
    "UnattestedTlsError",
    "UntrustedChannelError",
    "pinned_runtime",
    "verify_server",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "expect": ("ExpectedApp", "pinned_runtime"),
        "http": ("AttestedClient", "UntrustedChannelError"),
        "verify": (
            "OperatorTlsRefusedError",
            "Scenario",
            "ServerVerification",
            "UnattestedTlsError",
            "verify_server",
        ),
    },
)
