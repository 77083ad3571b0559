"""Open a TEE backend by name: ``simulated``, ``gramine-sgx`` or ``configfs-tsm``."""

from __future__ import annotations

from typing import Any

from veil.enclave.backends.configfs_tsm import ConfigfsTsmBackend
from veil.enclave.backends.errors import BackendConfigError
from veil.enclave.backends.gramine_sgx import GramineSgxBackend
from veil.enclave.backends.interface import Backend
from veil.enclave.backends.simulated import SimulatedBackend
from veil.enclave.identity import BACKEND_NAMES

__all__ = ["BACKEND_NAMES", "open_backend"]


def open_backend(name: str, **options: Any) -> Backend:
    """Construct the backend called ``name`` with its keyword ``options``.

    * ``simulated``: ``root_path``, ``runtime``, ``fingerprint``, ``security_config_digest``
      (see :class:`.simulated.SimulatedBackend`; protects nothing);
    * ``gramine-sgx``: optional ``attestation_dir``, ``identity_file``, ``environ``;
    * ``configfs-tsm``: ``runtime``, optional ``report_dir``, ``rtmr_path``,
      ``allow_unmeasured_app_insecure``.

    Unknown names and unknown options raise ``BackendConfigError``.
    """
    try:
        if name == "simulated":
            return SimulatedBackend(**options)
        if name == "gramine-sgx":
            return GramineSgxBackend(**options)
        if name == "configfs-tsm":
            return ConfigfsTsmBackend(**options)
    except TypeError as e:
        raise BackendConfigError(f"bad options for backend {name!r}: {e}") from e
    raise BackendConfigError(
        f"unknown TEE backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}"
    )
