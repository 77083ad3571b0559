"""TEE backends: one interface (:class:`Backend`), one module per TEE, opened by name."""

from __future__ import annotations

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
    "Backend",
    "Measurement",
    "open_backend",
]
