from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from veil.enclave.state import (
    ALLOWED_TRANSITIONS,
    InvalidTransitionError,
    NodeState,
    StateMachine,
    write_json_atomically,
)
from veil.host.state import NODE_STATES
from veil.host.state import NodeState as HostNodeState

FINGERPRINT = "sha256:" + "ab" * 32


def machine(tmp_path: Path) -> StateMachine:
    return StateMachine(
        state_file=tmp_path / "state.json",
        port=8443,
        url="https://127.0.0.1:8443",
        fingerprint=FINGERPRINT,
        clock=lambda: datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        pid=4242,
    )


def read(tmp_path: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((tmp_path / "state.json").read_text())
    return document


def test_starts_in_starting_and_persists(tmp_path: Path) -> None:
    sm = machine(tmp_path)
    assert sm.state is NodeState.STARTING
    assert read(tmp_path) == {
        "state": "starting",
        "reason": None,
        "since": "2025-01-02T03:04:05+00:00",
        "pid": 4242,
        "port": 8443,
        "fingerprint": FINGERPRINT,
        "url": "https://127.0.0.1:8443",
    }


def test_happy_path_is_persisted_at_every_step(tmp_path: Path) -> None:
    sm = machine(tmp_path)
    for target in (
        NodeState.WAITING,
        NodeState.PROVISIONING,
        NodeState.LOADING,
        NodeState.SERVING,
    ):
        sm.transition(target)
        assert read(tmp_path)["state"] == target.value


def test_state_file_is_readable_by_the_host_model(tmp_path: Path) -> None:
    sm = machine(tmp_path)
    sm.transition(NodeState.FAILED, reason="bad things\nhappened")
    parsed = HostNodeState.from_json((tmp_path / "state.json").read_bytes())
    assert parsed.state == "failed"
    assert parsed.reason == "bad things happened"
    assert parsed.pid == 4242
    assert set(NODE_STATES) == {s.value for s in NodeState}


def test_rejected_attempt_returns_to_waiting(tmp_path: Path) -> None:
    sm = machine(tmp_path)
    sm.transition(NodeState.WAITING)
    sm.transition(NodeState.PROVISIONING, expect=NodeState.WAITING)
    sm.transition(NodeState.WAITING, reason="rejected")
    assert read(tmp_path)["reason"] == "rejected"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ((), NodeState.SERVING),
        ((NodeState.WAITING,), NodeState.LOADING),
        ((NodeState.WAITING,), NodeState.SERVING),
        ((NodeState.WAITING, NodeState.PROVISIONING, NodeState.LOADING), NodeState.WAITING),
        ((NodeState.FAILED,), NodeState.WAITING),
        (
            (NodeState.WAITING, NodeState.PROVISIONING, NodeState.LOADING, NodeState.SERVING),
            NodeState.WAITING,
        ),
    ],
)
def test_illegal_transitions_are_refused_and_not_persisted(
    tmp_path: Path, path: tuple[NodeState, ...], target: NodeState
) -> None:
    sm = machine(tmp_path)
    for step in path:
        sm.transition(step)
    before = read(tmp_path)
    with pytest.raises(InvalidTransitionError, match=f"cannot go from .* to {target.value}"):
        sm.transition(target)
    assert read(tmp_path) == before


def test_expect_is_a_compare_and_set(tmp_path: Path) -> None:
    sm = machine(tmp_path)
    sm.transition(NodeState.WAITING)
    sm.transition(NodeState.PROVISIONING, expect=NodeState.WAITING)
    with pytest.raises(InvalidTransitionError):
        sm.transition(NodeState.PROVISIONING, expect=NodeState.WAITING)


def test_only_one_of_many_racing_provisioners_wins(tmp_path: Path) -> None:
    sm = machine(tmp_path)
    sm.transition(NodeState.WAITING)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            sm.transition(NodeState.PROVISIONING, expect=NodeState.WAITING)
            wins.append(True)
        except InvalidTransitionError:
            wins.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_fail_is_reachable_from_every_live_state_and_idempotent(tmp_path: Path) -> None:
    for state in NodeState:
        if state is NodeState.FAILED:
            continue
        assert NodeState.FAILED in ALLOWED_TRANSITIONS[state]
    sm = machine(tmp_path)
    sm.fail("first")
    sm.fail("second")
    assert read(tmp_path)["reason"] == "first"


def test_listeners_see_each_change(tmp_path: Path) -> None:
    sm = machine(tmp_path)
    seen: list[str] = []
    sm.on_change(lambda record: seen.append(record.state.value))
    sm.transition(NodeState.WAITING)
    sm.fail("x")
    assert seen == ["waiting", "failed"]


def test_long_reasons_are_truncated(tmp_path: Path) -> None:
    sm = machine(tmp_path)
    sm.fail("x" * 10_000)
    reason = read(tmp_path)["reason"]
    assert isinstance(reason, str)
    assert len(reason) == 500


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    write_json_atomically(target, {"a": 1})
    write_json_atomically(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]
