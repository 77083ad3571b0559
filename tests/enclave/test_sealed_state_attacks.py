"""Attacks on re-sealed state: a node's sealed secrets and data are its own instance's.

Finding 4 of the sound-identity review: with ``allow_restart_without_owner = true``, copying
one node's ``sealed/`` directory into another node of the same package made that node serve
the owner's secrets. Sealed state is now bound to the instance id; a restart of the same
instance still opens it (``test_node.py``), a copy is refused with a clear log line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.enclave._node_helpers import (
    NodeProcess,
    Package,
    ca_context,
    make_package,
    write_app,
    write_node_dir,
)
from tests.enclave.test_node import provision, start


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sealed-state")


@pytest.fixture(scope="module")
def simulation_dir(work: Path) -> Path:
    return work / "simulation"


@pytest.fixture(scope="module")
def restartable(work: Path) -> Package:
    app = write_app(work / "app", name="restartable", allow_restart=True)
    return make_package(app, work / "restartable.veil")


@pytest.mark.e2e
def test_sealed_state_copied_into_another_instance_is_refused(
    work: Path, restartable: Package, simulation_dir: Path
) -> None:
    original = start(work, "original", restartable, simulation_dir)
    note = "original instance's data 41c9"
    try:
        provision(original, restartable)
        original.wait_for("serving")
        ca = ca_context(original.certificate_pem())
        assert httpx.post(f"{original.url}/data", content=note.encode(), verify=ca).is_success
    finally:
        assert original.stop() == 0

    # The operator starts a second node of the same package (another instance id) and gives
    # it the first node's sealed directory.
    clone_dir = work / "clone"
    write_node_dir(clone_dir, restartable.path, simulation_dir=simulation_dir)
    shutil.copytree(original.node_dir / "sealed", clone_dir / "sealed")
    clone = NodeProcess(clone_dir)
    try:
        assert clone.wait_for("waiting", "serving")["state"] == "waiting"
        assert "sealed secrets belong to another instance" in clone.log()
        # Even once its owner provisions it, the clone cannot read the first node's data.
        provision(clone, restartable)
        clone.wait_for("serving")
        ca = ca_context(clone.certificate_pem())
        assert httpx.get(f"{clone.url}/data", verify=ca).json() is None
    finally:
        clone.stop()

    # The original instance, restarted, still opens its own state.
    again = NodeProcess(original.node_dir)
    try:
        again.wait_for("serving")
        ca = ca_context(again.certificate_pem())
        assert httpx.get(f"{again.url}/data", verify=ca).json() == note
    finally:
        again.stop()
