"""The node specification (``node.json``): what the host asks one enclave node to run."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from veil._io import read_bounded
from veil.errors import FormatError
from veil.sealing.binding import parse_instance_id

__all__ = [
    "MAX_NODE_SPEC_BYTES",
    "NODE_SPEC_FILE",
    "NODE_SPEC_FORMAT",
    "NODE_SPEC_VERSION",
    "NodeSpec",
    "NodeSpecError",
    "OperatorTls",
    "TlsScenarioName",
]

NODE_SPEC_FILE: Final = "node.json"
NODE_SPEC_FORMAT: Final = "veil-node"
NODE_SPEC_VERSION: Final = 1
#: Largest ``node.json`` read, in bytes: a real one is under 2 KiB.
MAX_NODE_SPEC_BYTES: Final = 64 * 1024
#: At most this many subject alternative names go into the RA-TLS certificate (the evidence
#: document carries at most 32).
MAX_SAN_ENTRIES: Final = 32

TlsScenarioName = Literal["zero-trust", "owner-certificate", "operator"]

_DNS_NAME_RE: Final = re.compile(
    r"(?=.{1,253}$)(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_NODE_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class NodeSpecError(FormatError):
    """``node.json`` is unreadable, malformed or has an invalid field."""


class OperatorTls(BaseModel):
    """Operator scenario (``--untrusted-ssl``): the operator's certificate chain and key files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    certificate: Path
    private_key: Path


class NodeSpec(BaseModel):
    """A validated ``node.json`` (RUNTIME-CONTRACT.md, "Node directory").

    Written by the host at spawn, read by the node at start. Nothing in it is secret: the
    operator controls it, so the node treats every field as untrusted input.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["veil-node"] = NODE_SPEC_FORMAT
    version: Literal[1] = NODE_SPEC_VERSION
    name: str
    #: 16 random bytes as 32 lowercase hex digits, chosen by the host at spawn.
    instance_id: str
    #: Absolute path of the encrypted package (``.veil``).
    package: Path
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    backend: str = "simulated"
    backend_options: dict[str, Any] = Field(default_factory=dict)
    san: tuple[str, ...] = ("localhost", "127.0.0.1")
    #: Overrides the package's TLS scenario; only ``"operator"`` is meaningful (untrusted TLS).
    tls_scenario_override: TlsScenarioName | None = None
    operator_tls: OperatorTls | None = None
    created_at: datetime

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NODE_NAME_RE.fullmatch(value):
            raise ValueError("must be 1-63 of a-z, 0-9, '-', '_' starting with a letter or digit")
        return value

    @field_validator("instance_id")
    @classmethod
    def _check_instance_id(cls, value: str) -> str:
        try:
            parse_instance_id(value)
        except FormatError as e:
            raise ValueError(str(e)) from None
        return value

    @field_validator("package")
    @classmethod
    def _check_package(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError("must be an absolute path")
        return value

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        if not _is_ip(value) and not _DNS_NAME_RE.fullmatch(value):
            raise ValueError("must be an IP address or a host name")
        return value

    @field_validator("san")
    @classmethod
    def _check_san(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(value) > MAX_SAN_ENTRIES:
            raise ValueError(f"must hold 1 to {MAX_SAN_ENTRIES} names")
        for entry in value:
            if not _is_ip(entry) and not _DNS_NAME_RE.fullmatch(entry):
                raise ValueError(f"{entry!r} is neither an IP address nor a DNS name")
        return value

    @property
    def tls_scenario_is_operator(self) -> bool:
        """True when the operator's own (untrusted) certificate serves the app."""
        return self.operator_tls is not None or self.tls_scenario_override == "operator"

    @property
    def url(self) -> str:
        """The base URL users and the host reach the node at."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @classmethod
    def from_json(cls, data: bytes) -> NodeSpec:
        """Parse ``node.json`` bytes; ``NodeSpecError`` naming the first bad field."""
        if len(data) > MAX_NODE_SPEC_BYTES:
            raise NodeSpecError(f"{NODE_SPEC_FILE} is larger than {MAX_NODE_SPEC_BYTES} bytes")
        try:
            spec = cls.model_validate_json(data)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "document"
            raise NodeSpecError(f"{NODE_SPEC_FILE}: {where}: {first['msg']}") from None
        if spec.tls_scenario_override == "operator" and spec.operator_tls is None:
            raise NodeSpecError(f"{NODE_SPEC_FILE}: operator scenario needs operator_tls files")
        return spec

    @classmethod
    def read(cls, node_dir: Path) -> NodeSpec:
        """Read and validate ``node_dir/node.json``."""
        data = read_bounded(
            node_dir / NODE_SPEC_FILE,
            max_bytes=MAX_NODE_SPEC_BYTES,
            what="node spec",
            error=NodeSpecError,
            too_large=NodeSpecError,
        )
        return cls.from_json(data)

    def to_json(self) -> bytes:
        """The JSON form the host writes (stable key order, UTF-8)."""
        return self.model_dump_json(indent=2).encode("utf-8") + b"\n"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
