"""Errors raised by TEE backends, as subclasses of veil's one error tree."""

from __future__ import annotations

from veil.errors import BindingError, ConfigError, FormatError, OperationError

__all__ = [
    "AppIdentityMismatchError",
    "BackendConfigError",
    "DeviceError",
    "DeviceFormatError",
    "ReportDataMismatchError",
]


class DeviceError(OperationError):
    """A TEE device or pseudo-file could not be used: missing, unreadable, or it kept changing
    under us (a concurrent writer)."""


class DeviceFormatError(FormatError):
    """A TEE device returned bytes of the wrong size or shape (short read, oversized blob)."""


class BackendConfigError(ConfigError):
    """The backend cannot provide what was asked on this platform or configuration
    (unknown backend, attestation not DCAP, no sealing key, no RTMR interface)."""


class ReportDataMismatchError(BindingError):
    """The quote a device returned does not carry the report data that was written, so it
    cannot bind our keys (a stale quote, a replay, or a device under someone else's control)."""


class AppIdentityMismatchError(BindingError):
    """The app identity cannot be recorded as given: it differs from the one fixed at launch
    (simulated, SGX manifest, SEV-SNP HOST_DATA), or the register did not extend as expected."""
