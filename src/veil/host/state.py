"""A node directory's files and the records the host reads from them (pid, reported state)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, TypeVar

from veil._io import read_bounded
from veil._json import load_json_object
from veil.errors import ConfigError, FormatError

__all__ = [
    "DEFAULT_SPAWN_TIMEOUT",
    "DEFAULT_STOP_GRACE",
    "MAX_STATE_FILE_BYTES",
    "NODE_STATES",
    "NodeNotFoundError",
    "NodePaths",
    "NodeState",
    "is_node_name",
    "read_node_state",
    "read_pid",
    "validate_node_name",
]

#: How long `spawn` waits for a node to report ``waiting``: key generation, a quote and
#: uvicorn's start take about a second on the simulated backend; hardware is slower.
DEFAULT_SPAWN_TIMEOUT: Final = 60.0
#: How long a node gets after SIGTERM to close connections and exit before SIGKILL.
DEFAULT_STOP_GRACE: Final = 10.0

#: ``state.json`` and ``node.pid`` are small; anything bigger is not ours (or is corrupt).
MAX_STATE_FILE_BYTES: Final = 64 * 1024

#: The states a node walks through (RUNTIME-CONTRACT.md), in order; ``failed`` is terminal.
NODE_STATES: Final = ("starting", "waiting", "provisioning", "loading", "serving", "failed")

#: Node names become directory names and appear in URLs and logs: keep them boring.
_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class NodeNotFoundError(ConfigError):
    """No node of that name exists."""


def is_node_name(name: str) -> bool:
    return _NAME_RE.fullmatch(name) is not None


def validate_node_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f"invalid node name {name!r}: use 1-63 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class NodePaths:
    """The files of one node directory (RUNTIME-CONTRACT.md, "Node directory")."""

    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def spec(self) -> Path:
        return self.root / "node.json"

    @property
    def pid(self) -> Path:
        return self.root / "node.pid"

    @property
    def log(self) -> Path:
        return self.root / "node.log"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def sealed(self) -> Path:
        return self.root / "sealed"

    def exists(self) -> bool:
        return self.spec.is_file()


@dataclass(frozen=True)
class NodeState:
    """What the node last reported about itself in ``state.json``."""

    state: str
    reason: str | None
    since: datetime
    pid: int | None
    port: int | None
    fingerprint: str | None
    url: str | None

    @classmethod
    def from_json(cls, data: bytes) -> NodeState:
        obj = load_json_object(data, max_bytes=MAX_STATE_FILE_BYTES, what="state.json")
        state = obj.get("state")
        if state not in NODE_STATES:
            raise FormatError(f"state.json has an unknown state {state!r}")
        try:
            since = datetime.fromisoformat(str(obj.get("since")))
        except ValueError as e:
            raise FormatError("state.json has an invalid 'since' timestamp") from e
        return cls(
            state=state,
            reason=_optional(obj, "reason", str),
            since=since,
            pid=_optional(obj, "pid", int),
            port=_optional(obj, "port", int),
            fingerprint=_optional(obj, "fingerprint", str),
            url=_optional(obj, "url", str),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "pid": self.pid,
            "port": self.port,
            "fingerprint": self.fingerprint,
            "url": self.url,
        }


_T = TypeVar("_T")


def _optional(obj: dict[str, object], key: str, kind: type[_T]) -> _T | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise FormatError(f"state.json field {key!r} has the wrong type")
    return value


def read_node_state(paths: NodePaths) -> NodeState | None:
    """The node's last reported state, or ``None`` before it wrote one."""
    data = read_bounded(
        paths.state, max_bytes=MAX_STATE_FILE_BYTES, what="node state", missing_ok=True
    )
    return None if data is None else NodeState.from_json(data)


def read_pid(paths: NodePaths) -> int | None:
    data = read_bounded(
        paths.pid, max_bytes=MAX_STATE_FILE_BYTES, what="node pid file", missing_ok=True
    )
    if data is None:
        return None
    try:
        pid = int(data.decode("ascii").strip())
    except (ValueError, UnicodeDecodeError) as e:
        raise FormatError(f"{paths.pid} does not hold a process id") from e
    if pid <= 1:
        raise FormatError(f"{paths.pid} holds an impossible process id {pid}")
    return pid
