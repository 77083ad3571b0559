from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.errors import ConfigError, FormatError
from veil.host.state import (
    MAX_STATE_FILE_BYTES,
    NodePaths,
    NodeState,
    read_node_state,
    read_pid,
    validate_node_name,
)

GOOD_STATE = {
    "state": "waiting",
    "reason": None,
    "since": "2025-01-01T00:00:00+00:00",
    "pid": 1234,
    "port": 8443,
    "fingerprint": "sha256:" + "ab" * 32,
    "url": "https://127.0.0.1:8443",
}


@pytest.mark.parametrize("name", ["", "-x", "A", "a/b", "..", "a" * 64, "a b", "é"])
def test_bad_node_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid node name"):
        validate_node_name(name)


def test_state_round_trip(tmp_path: Path) -> None:
    paths = NodePaths(tmp_path / "n")
    paths.root.mkdir(parents=True)
    assert read_node_state(paths) is None
    paths.state.write_text(json.dumps(GOOD_STATE))
    state = read_node_state(paths)
    assert state is not None
    assert state.state == "waiting"
    assert state.port == 8443
    assert state.to_json() == GOOD_STATE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": "dancing"}, "unknown state"),
        ({"since": "yesterday"}, "since"),
        ({"pid": "12"}, "'pid' has the wrong type"),
        ({"port": True}, "'port' has the wrong type"),
    ],
)
def test_bad_state_fields_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(FormatError, match=message):
        NodeState.from_json(json.dumps({**GOOD_STATE, **change}).encode())


def test_oversized_state_file_is_refused(tmp_path: Path) -> None:
    paths = NodePaths(tmp_path / "n")
    paths.root.mkdir(parents=True)
    paths.state.write_bytes(b" " * (MAX_STATE_FILE_BYTES + 1))
    with pytest.raises(FormatError, match="larger than"):
        read_node_state(paths)


@pytest.mark.parametrize("content", [b"", b"abc", b"1", b"-5", b"\xff"])
def test_bad_pid_files_are_refused(content: bytes, tmp_path: Path) -> None:
    paths = NodePaths(tmp_path / "n")
    paths.root.mkdir(parents=True)
    paths.pid.write_bytes(content)
    with pytest.raises(FormatError):
        read_pid(paths)


@given(st.binary(max_size=300))
def test_state_parser_raises_only_format_error(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        NodeState.from_json(data)
