"""Open a TEE backend by name, and for a node from what the measured identity fixes.

Each backend has one :class:`BackendDescriptor`: its name, where its class lives, and which
``node.json`` ``backend_options`` the host may set. The host writes ``node.json``, so an option
it may set must be one that cannot change what the enclave attests, serves or unseals (DESIGN.md,
"Identity model"). On the hardware backends that is none at all: the device paths, the measured
app-identity file and the environment holding the fingerprint are fixed in the code or the
measured manifest; an option the host adds there is refused, not ignored.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from veil.enclave.backends.errors import BackendConfigError
from veil.enclave.backends.interface import BACKEND_NAMES, Backend
from veil.identity.app import security_config_digest
from veil.identity.runtime import RuntimeIdentity

__all__ = [
    "BACKEND_ENV",
    "BACKEND_NAMES",
    "DESCRIPTORS",
    "BackendDescriptor",
    "NodeIdentity",
    "node_backend_options",
    "open_backend",
    "open_node_backend",
]

#: Set by the measured Gramine manifest (``loader.env.VEIL_BACKEND``) or a TDX/SNP image: the
#: backend this enclave was built for. When present, ``node.json`` must name the same one.
BACKEND_ENV: Final = "VEIL_BACKEND"


@dataclass(frozen=True)
class NodeIdentity:
    """What the package and the runtime fix for a node: never the host's choice."""

    runtime: RuntimeIdentity
    fingerprint: str
    security_config_json: bytes


def _simulated_options(host: Mapping[str, Any], identity: NodeIdentity) -> dict[str, Any]:
    root = host.get("root_key")
    if not isinstance(root, str) or not root:
        raise BackendConfigError("node.json: backend_options.root_key is required for simulated")
    root_path = Path(root)
    secret = host.get("platform_secret")
    if secret is not None and Path(str(secret)) != root_path.parent / "platform.secret":
        raise BackendConfigError(
            "node.json: the simulated platform secret must live beside the root key"
        )
    return {
        "root_path": root_path,
        "runtime": identity.runtime,
        "fingerprint": identity.fingerprint,
        "security_config_digest": security_config_digest(identity.security_config_json),
    }


def _gramine_options(host: Mapping[str, Any], identity: NodeIdentity) -> dict[str, Any]:
    # /dev/attestation, the manifest's trusted app-identity file and the manifest's loader.env
    # are the constructor's defaults; nothing here may come from node.json.
    return {}


def _configfs_options(host: Mapping[str, Any], identity: NodeIdentity) -> dict[str, Any]:
    # The configfs-tsm and RTMR sysfs paths stay the kernel's: pointed elsewhere, a host file
    # could answer for the device. allow_unmeasured_app_insecure is for tests only.
    return {"runtime": identity.runtime}


@dataclass(frozen=True)
class BackendDescriptor:
    """One backend: its name, its class, and the ``node.json`` options a host may set."""

    name: str
    module: str
    class_name: str
    #: ``backend_options`` keys the host may write; each must leave the identity unchanged.
    host_options: frozenset[str]
    #: Builds the constructor options for a node from the host's options and the identity.
    node_options: Callable[[Mapping[str, Any], NodeIdentity], dict[str, Any]]
    #: True when the backend protects nothing (its evidence is refused by default policies).
    simulated: bool = False

    def load_class(self) -> type[Any]:
        # Imported on use: a node only needs its own backend, and the backend modules import
        # veil.identity, which would make an import cycle at the package's top.
        module = importlib.import_module(self.module)
        backend_class: type[Any] = getattr(module, self.class_name)
        return backend_class


DESCRIPTORS: Final[Mapping[str, BackendDescriptor]] = {
    descriptor.name: descriptor
    for descriptor in (
        BackendDescriptor(
            name="simulated",
            module="veil.enclave.backends.simulated",
            class_name="SimulatedBackend",
            host_options=frozenset({"root_key", "platform_secret"}),
            node_options=_simulated_options,
            simulated=True,
        ),
        BackendDescriptor(
            name="gramine-sgx",
            module="veil.enclave.backends.gramine_sgx",
            class_name="GramineSgxBackend",
            host_options=frozenset(),
            node_options=_gramine_options,
        ),
        BackendDescriptor(
            name="configfs-tsm",
            module="veil.enclave.backends.configfs_tsm",
            class_name="ConfigfsTsmBackend",
            host_options=frozenset(),
            node_options=_configfs_options,
        ),
    )
}
if tuple(DESCRIPTORS) != BACKEND_NAMES:
    raise ImportError("every backend name needs exactly one descriptor")


def _descriptor(name: str) -> BackendDescriptor:
    descriptor = DESCRIPTORS.get(name)
    if descriptor is None:
        raise BackendConfigError(
            f"unknown TEE backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}"
        )
    return descriptor


def open_backend(name: str, **options: Any) -> Backend:
    """Construct the backend called ``name`` with its keyword ``options`` (tests, tools).

    * ``simulated``: ``root_path``, ``runtime``, ``fingerprint``, ``security_config_digest``
      (see :class:`.simulated.SimulatedBackend`; protects nothing);
    * ``gramine-sgx``: optional ``attestation_dir``, ``identity_file``, ``environ``;
    * ``configfs-tsm``: ``runtime``, optional ``report_dir``, ``rtmr_path``,
      ``allow_unmeasured_app_insecure``.

    A node never calls this with host-chosen options: it uses :func:`open_node_backend`.
    Unknown names and unknown options raise ``BackendConfigError``.
    """
    backend_class = _descriptor(name).load_class()
    try:
        inspect.signature(backend_class).bind(**options)
    except TypeError as e:
        raise BackendConfigError(f"bad options for backend {name!r}: {e}") from e
    backend: Backend = backend_class(**options)
    return backend


def node_backend_options(
    name: str,
    host_options: Mapping[str, Any],
    identity: NodeIdentity,
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The constructor options for a node's backend, refusing anything identity-bearing.

    ``host_options`` is ``node.json``'s ``backend_options`` (host-written); ``environ`` is the
    enclave's environment (default ``os.environ``), whose ``VEIL_BACKEND`` the measured
    manifest or image sets.
    """
    descriptor = _descriptor(name)
    built_for = (os.environ if environ is None else environ).get(BACKEND_ENV)
    if built_for is not None and built_for != name:
        raise BackendConfigError(
            f"node.json asks for backend {name!r}, but this enclave was built for "
            f"{built_for!r} ({BACKEND_ENV} in the measured manifest)"
        )
    refused = sorted(set(host_options) - descriptor.host_options)
    if refused:
        allowed = ", ".join(sorted(descriptor.host_options)) or "none"
        raise BackendConfigError(
            f"node.json: backend_options {', '.join(refused)} may not be set by the host for "
            f"{name} (host-settable: {allowed}); what ties the enclave to the app comes from "
            "the measured manifest or image"
        )
    return descriptor.node_options(host_options, identity)


def open_node_backend(
    name: str,
    host_options: Mapping[str, Any],
    identity: NodeIdentity,
    *,
    environ: Mapping[str, str] | None = None,
) -> Backend:
    """Open the backend a node runs on, from ``node.json``'s name and options and the identity
    the package and runtime fix (see :func:`node_backend_options`)."""
    options = node_backend_options(name, host_options, identity, environ=environ)
    return open_backend(name, **options)
