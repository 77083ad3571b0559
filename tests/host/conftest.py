"""Fake nodes for the host side: a stand-in node script behind a real ``LocalNodeManager``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from veil.host.homes import OperatorHome
from veil.host.nodes import LocalNodeManager
from veil.host.process import LocalProcesses
from veil.host.state import NodePaths

#: A stand-in for ``python -m veil.enclave``: reports states like the node does, then idles.
#: argv: node_dir mode. Modes: ok, fail, exit, hang (never reports), stubborn (ignores TERM).
FAKE_NODE = r"""
import json, os, signal, sys, time
node_dir, mode = sys.argv[1], sys.argv[2]
def report(state, reason=None):
    doc = {"state": state, "reason": reason, "since": "2025-01-01T00:00:00+00:00",
           "pid": os.getpid(), "port": 1, "fingerprint": None, "url": "https://127.0.0.1:1"}
    tmp = os.path.join(node_dir, ".state.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, os.path.join(node_dir, "state.json"))
print("fake node starting", flush=True)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if mode == "exit":
    sys.exit(3)
if mode != "hang":
    report("starting")
    report("failed" if mode == "fail" else "waiting", "boom" if mode == "fail" else None)
while True:
    time.sleep(0.05)
"""


@dataclass
class FakeNodes:
    """A manager whose nodes run ``FAKE_NODE`` in ``mode``; ``processes`` is its launcher."""

    manager: LocalNodeManager
    processes: LocalProcesses
    home: OperatorHome
    mode: str = "ok"

    def paths(self, name: str) -> NodePaths:
        return self.home.node(name)


@pytest.fixture
def fake_nodes(tmp_path: Path) -> Iterator[FakeNodes]:
    script = tmp_path / "fake_node.py"
    script.write_text(FAKE_NODE)
    home = OperatorHome.from_env()  # the per-test home of tests/conftest.py
    processes = LocalProcesses(
        lambda node_dir: [sys.executable, str(script), str(node_dir), fake.mode]
    )
    fake = FakeNodes(LocalNodeManager(home, processes=processes), processes, home)
    yield fake
    for node in fake.manager.list():
        fake.manager.stop(node.name, grace=0.2)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    path = tmp_path / "app.veil"
    path.write_bytes(b"not read by the fake node")
    return path
