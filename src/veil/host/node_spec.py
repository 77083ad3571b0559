"""A new node's record (``node.json``) and the checks made before any of it is created."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from veil.enclave.spec import NodeSpec, OperatorTls
from veil.errors import ConfigError
from veil.host.interface import NodeStatus, PortInUseError, SpawnRequest

__all__ = ["build_node_spec", "check_backend_name", "check_port_free", "free_port"]


def check_backend_name(backend: str) -> str:
    """``backend`` if veil has such a backend; ``ConfigError`` before anything is created."""
    from veil.identity.measurement import BACKEND_NAMES  # noqa: PLC0415 - only spawn needs it

    if backend not in BACKEND_NAMES:
        raise ConfigError(
            f"unknown backend {backend!r} (--backend): use one of {', '.join(BACKEND_NAMES)}"
        )
    return backend


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (it may be taken before we bind it)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def check_port_free(host: str, port: int, nodes: Iterable[NodeStatus]) -> None:
    """``PortInUseError`` if a running node of ``nodes`` or anything else listens on ``port``."""
    for node in nodes:
        if node.running and node.port == port:
            raise PortInUseError(f"port {port} is used by node {node.name!r}")
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        # uvicorn binds with SO_REUSEADDR too, so only a live listener counts as "in use".
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(f"port {port} on {host} is already in use") from e
            raise ConfigError(f"cannot bind {host}:{port}: {e.strerror or e}") from e


def build_node_spec(
    request: SpawnRequest,
    *,
    port: int,
    instance_id: str,
    backend_options: Mapping[str, Any],
    created_at: datetime,
) -> NodeSpec:
    """The validated record of the node ``request`` asks for; ``ConfigError`` naming a bad field."""
    operator_tls = None
    if request.operator_tls is not None:
        certificate, private_key = request.operator_tls
        operator_tls = OperatorTls(
            certificate=certificate.expanduser().resolve(),
            private_key=private_key.expanduser().resolve(),
        )
    try:
        return NodeSpec(
            name=request.name,
            instance_id=instance_id,
            package=request.package.expanduser().resolve(),
            host=request.host,
            port=port,
            backend=request.backend,
            backend_options=dict(backend_options),
            san=tuple(dict.fromkeys(["localhost", request.host, *request.san])),
            tls_scenario_override="operator" if operator_tls else None,
            operator_tls=operator_tls,
            created_at=created_at,
        )
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise ConfigError(f"invalid node parameters: node.json: {where}: {first['msg']}") from None
