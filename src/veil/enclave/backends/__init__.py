"""TEE backends: one interface (:class:`Backend`), one module per TEE, opened by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.enclave.backends.errors import (
        AppIdentityMismatchError,
        BackendConfigError,
        DeviceError,
        DeviceFormatError,
        ReportDataMismatchError,
    )
    from veil.enclave.backends.factory import BACKEND_NAMES, open_backend
    from veil.enclave.backends.interface import (
        REPORT_DATA_SIZE,
        SEALING_KEY_SIZE,
        Backend,
        Measurement,
    )

__all__ = [
    "BACKEND_NAMES",
    "REPORT_DATA_SIZE",
    "SEALING_KEY_SIZE",
    "AppIdentityMismatchError",
    "Backend",
    "BackendConfigError",
    "DeviceError",
    "DeviceFormatError",
    "Measurement",
    "ReportDataMismatchError",
    "open_backend",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "errors": (
            "AppIdentityMismatchError",
            "BackendConfigError",
            "DeviceError",
            "DeviceFormatError",
            "ReportDataMismatchError",
        ),
        "factory": ("BACKEND_NAMES", "open_backend"),
        "interface": ("Backend", "Measurement", "REPORT_DATA_SIZE", "SEALING_KEY_SIZE"),
    },
)
