"""Open a TEE backend by name: ``simulated``, ``gramine-sgx`` or ``configfs-tsm``."""

from __future__ import annotations

import inspect
from typing import Any

from veil.enclave.backends.errors import BackendConfigError
from veil.enclave.backends.interface import BACKEND_NAMES, Backend

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
    # Imported here, not at the top: the backend modules import veil.identity.app, which
    # imports this package, and a node only needs the backend it runs on.
    backend_class: type[Any]
    if name == "simulated":
        from veil.enclave.backends.simulated import SimulatedBackend  # noqa: PLC0415

        backend_class = SimulatedBackend
    elif name == "gramine-sgx":
        from veil.enclave.backends.gramine_sgx import GramineSgxBackend  # noqa: PLC0415

        backend_class = GramineSgxBackend
    elif name == "configfs-tsm":
        from veil.enclave.backends.configfs_tsm import ConfigfsTsmBackend  # noqa: PLC0415

        backend_class = ConfigfsTsmBackend
    else:
        raise BackendConfigError(
            f"unknown TEE backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}"
        )
    try:
        inspect.signature(backend_class).bind(**options)
    except TypeError as e:
        raise BackendConfigError(f"bad options for backend {name!r}: {e}") from e
    backend: Backend = backend_class(**options)
    return backend
