"""The node's life-cycle state machine, persisted atomically to ``state.json`` on every change."""

from __future__ import annotations

import enum
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from veil._io import write_atomic
from veil.errors import OperationError

__all__ = [
    "ALLOWED_TRANSITIONS",
    "STATE_FILE",
    "InvalidTransitionError",
    "NodeState",
    "StateMachine",
    "StateRecord",
    "write_json_atomically",
]

STATE_FILE: Final = "state.json"
#: Longest failure reason kept, in characters: reasons are one-line summaries for operators.
MAX_REASON_CHARS: Final = 500


class NodeState(enum.StrEnum):
    """Where a node is in its life: the values written to ``state.json``."""

    STARTING = "starting"
    WAITING = "waiting"
    PROVISIONING = "provisioning"
    LOADING = "loading"
    SERVING = "serving"
    FAILED = "failed"


#: Every legal move. ``starting → loading`` is the restart without the owner (re-sealed
#: secrets); ``provisioning → waiting`` is a refused attempt; ``failed`` is terminal.
ALLOWED_TRANSITIONS: Final[Mapping[NodeState, frozenset[NodeState]]] = {
    NodeState.STARTING: frozenset({NodeState.WAITING, NodeState.LOADING, NodeState.FAILED}),
    NodeState.WAITING: frozenset({NodeState.PROVISIONING, NodeState.FAILED}),
    NodeState.PROVISIONING: frozenset({NodeState.WAITING, NodeState.LOADING, NodeState.FAILED}),
    NodeState.LOADING: frozenset({NodeState.SERVING, NodeState.FAILED}),
    NodeState.SERVING: frozenset({NodeState.FAILED}),
    NodeState.FAILED: frozenset(),
}


class InvalidTransitionError(OperationError):
    """A move the life cycle does not allow (e.g. provisioning a node that is serving)."""

    def __init__(self, current: NodeState, target: NodeState) -> None:
        super().__init__(f"node cannot go from {current} to {target}")
        self.current = current
        self.target = target


@dataclass(frozen=True, kw_only=True)
class StateRecord:
    """One persisted state: what ``state.json`` holds (RUNTIME-CONTRACT.md)."""

    state: NodeState
    reason: str | None
    since: datetime
    pid: int
    port: int
    fingerprint: str | None
    url: str

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "pid": self.pid,
            "port": self.port,
            "fingerprint": self.fingerprint,
            "url": self.url,
        }


def write_json_atomically(path: Path, document: Mapping[str, object]) -> None:
    """Replace ``path`` with ``document`` so a reader sees the old or the new file, never half."""
    data = json.dumps(document, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    write_atomic(path, data, mode=0o644, what="node state")


class StateMachine:
    """The node's current state; each validated transition is written to ``state.json``.

    Thread-safe: the bootstrap API and the loader move it from different threads. Listeners
    (``on_change``) run after the file is written, outside the lock.
    """

    def __init__(
        self,
        *,
        state_file: Path,
        port: int,
        url: str,
        fingerprint: str | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pid: int | None = None,
    ) -> None:
        self._state_file = state_file
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Callable[[StateRecord], None]] = []
        self._record = StateRecord(
            state=NodeState.STARTING,
            reason=None,
            since=clock(),
            pid=os.getpid() if pid is None else pid,
            port=port,
            fingerprint=fingerprint,
            url=url,
        )
        write_json_atomically(state_file, self._record.to_json())

    @property
    def record(self) -> StateRecord:
        return self._record

    @property
    def state(self) -> NodeState:
        return self._record.state

    def on_change(self, listener: Callable[[StateRecord], None]) -> None:
        self._listeners.append(listener)

    def transition(
        self, target: NodeState, *, reason: str | None = None, expect: NodeState | None = None
    ) -> StateRecord:
        """Move to ``target``; ``InvalidTransitionError`` if the life cycle forbids it or the
        current state is not ``expect`` (a compare-and-set for racing requests)."""
        with self._lock:
            current = self._record.state
            if expect is not None and current != expect:
                raise InvalidTransitionError(current, target)
            record = self._move_locked(target, reason)
        self._notify(record)
        return record

    def fail(self, reason: str) -> StateRecord:
        """Move to ``failed`` from any live state; a no-op when already failed."""
        with self._lock:
            if self._record.state is NodeState.FAILED:
                return self._record
            record = self._move_locked(NodeState.FAILED, reason)
        self._notify(record)
        return record

    def _move_locked(self, target: NodeState, reason: str | None) -> StateRecord:
        current = self._record.state
        if target not in ALLOWED_TRANSITIONS[current]:
            raise InvalidTransitionError(current, target)
        record = StateRecord(
            state=target,
            reason=_one_line(reason),
            since=self._clock(),
            pid=self._record.pid,
            port=self._record.port,
            fingerprint=self._record.fingerprint,
            url=self._record.url,
        )
        write_json_atomically(self._state_file, record.to_json())
        self._record = record
        return record

    def _notify(self, record: StateRecord) -> None:
        for listener in self._listeners:
            listener(record)


def _one_line(reason: str | None) -> str | None:
    if reason is None:
        return None
    flat = " ".join(reason.split())
    return flat[:MAX_REASON_CHARS]
