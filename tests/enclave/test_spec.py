from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.enclave.spec import MAX_NODE_SPEC_BYTES, NodeSpec, NodeSpecError

GOOD: dict[str, object] = {
    "format": "veil-node",
    "version": 1,
    "name": "web-1",
    "instance_id": "0123456789abcdef0123456789abcdef",
    "package": "/srv/app.veil",
    "host": "127.0.0.1",
    "port": 8443,
    "backend": "simulated",
    "backend_options": {"root_key": "/r/root.pem", "platform_secret": "/r/platform.secret"},
    "san": ["localhost", "127.0.0.1", "app.example.com"],
    "tls_scenario_override": None,
    "operator_tls": None,
    "created_at": "2025-01-02T03:04:05Z",
}


def spec(**changes: object) -> bytes:
    return json.dumps(GOOD | changes).encode()


def test_round_trip() -> None:
    parsed = NodeSpec.from_json(spec())
    assert parsed.port == 8443
    assert parsed.url == "https://127.0.0.1:8443"
    assert not parsed.tls_scenario_is_operator
    assert NodeSpec.from_json(parsed.to_json()) == parsed


def test_ipv6_url() -> None:
    assert NodeSpec.from_json(spec(host="::1")).url == "https://[::1]:8443"


def test_operator_scenario() -> None:
    parsed = NodeSpec.from_json(
        spec(
            tls_scenario_override="operator",
            operator_tls={"certificate": "/c.pem", "private_key": "/k.pem"},
        )
    )
    assert parsed.tls_scenario_is_operator
    with pytest.raises(NodeSpecError, match="operator_tls"):
        NodeSpec.from_json(spec(tls_scenario_override="operator"))


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("format", "other", "format"),
        ("version", 2, "version"),
        ("instance_id", "xyz", "instance_id"),
        ("package", "relative/app.veil", "package"),
        ("port", 0, "port"),
        ("port", 70000, "port"),
        ("host", "bad host!", "host"),
        ("san", [], "san"),
        ("san", ["ok", "not a name!"], "san"),
        ("name", "Upper", "name"),
        ("created_at", "yesterday", "created_at"),
        ("unexpected", 1, "unexpected"),
    ],
)
def test_bad_fields_name_the_field(field: str, value: object, where: str) -> None:
    with pytest.raises(NodeSpecError, match=f"node.json: {where}"):
        NodeSpec.from_json(spec(**{field: value}))


def test_oversized_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(NodeSpecError, match="larger"):
        NodeSpec.from_json(b" " * (MAX_NODE_SPEC_BYTES + 1))
    with pytest.raises(NodeSpecError, match="cannot read"):
        NodeSpec.read(tmp_path)
    (tmp_path / "node.json").write_bytes(spec())
    assert NodeSpec.read(tmp_path).name == "web-1"


@settings(max_examples=80)
@given(st.binary(max_size=300))
def test_any_bytes_raise_only_node_spec_error(data: bytes) -> None:
    with contextlib.suppress(NodeSpecError):
        NodeSpec.from_json(data)
