"""Shared fixtures: where the real hardware vectors live, and a clean veil home per test."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Real recorded quotes and collateral under MIT or Apache-2.0, shipped with the repository
#: (tests/vectors/README.md lists each file's source and licence).
VECTORS_DIR = REPO_ROOT / "tests" / "vectors"
#: Vectors under other licences are not redistributed: they stay in the shared folder beside the
#: repository (``../shared/vectors``), or wherever ``VEIL_VECTORS_DIR`` says.
SHARED_VECTORS_ENV = "VEIL_VECTORS_DIR"


def shared_vectors_root() -> Path:
    configured = os.environ.get(SHARED_VECTORS_ENV)
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The vectors shipped in tests/vectors: always present."""
    return VECTORS_DIR


def find_shared_vectors() -> Path:
    """The vectors that are not redistributed. Absent (a fresh clone), the test is skipped; under
    ``CI=true`` it fails instead, so that CI never passes without running it."""
    root = shared_vectors_root()
    if (root / "README.md").is_file():
        return root
    reason = (
        f"shared test vectors not found at {root} (vectors under licences veil does not "
        f"redistribute; set {SHARED_VECTORS_ENV} to their folder)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true requires them", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_vectors_dir() -> Path:
    return find_shared_vectors()


#: Every operator home the tests used (the per-test ones and tests/e2e's per-module ones):
#: the session's safety net looks in each of them for nodes still running.
VEIL_HOMES: list[Path] = []


def register_veil_home(home: Path) -> Path:
    VEIL_HOMES.append(home)
    return home


@pytest.fixture(autouse=True)
def _isolated_veil_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own operator home, so nodes never leak between tests, its own owner
    home (deployments and their code keys) and its own cache directory (veil's wheel cache
    lives under ``$XDG_CACHE_HOME/veil``). The XDG fallbacks point into the test's folders too,
    so that a home left unset never reaches the user's own."""
    monkeypatch.setenv("VEIL_HOME", str(register_veil_home(tmp_path_factory.mktemp("veil-home"))))
    monkeypatch.setenv("VEIL_OWNER_HOME", str(tmp_path_factory.mktemp("owner-home")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))
    xdg = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_STATE_HOME", str(xdg / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg / "data"))


def _leftover_node_pids(homes: list[Path]) -> dict[int, Path]:
    """Pids of node processes still running, recorded in ``node.pid`` under ``homes``."""
    # Imported here: collecting the pure-core tests must not import the host side.
    from veil.errors import VeilError
    from veil.host.process import system_processes
    from veil.host.state import NodePaths, read_pid

    found: dict[int, Path] = {}
    for home in homes:
        nodes = home / "nodes"
        if not nodes.is_dir():
            continue
        for directory in sorted(nodes.iterdir()):
            paths = NodePaths(directory)
            try:
                pid = read_pid(paths)
            except VeilError:
                continue
            if pid is not None and system_processes().is_running(pid, directory):
                found[pid] = directory
    return found


def _stray_node_pids(basetemp: Path) -> dict[int, Path]:
    """Pids of processes started from a test's directory (nodes run by tests/enclave, fake
    nodes): any process other than this one whose command line names a path in ``basetemp``."""
    found: dict[int, Path] = {}
    prefix = os.fsencode(f"{basetemp}{os.sep}")
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        for arg in args:
            if arg.startswith(prefix):
                found[pid] = Path(os.fsdecode(arg))
                break
    return found


def _stop_processes(pids: list[int]) -> None:
    """SIGTERM each process's group (nodes lead their own session), SIGKILL after 5 s."""

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rpartition(")")[2].split()[:1] != ["Z"]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
        deadline = time.monotonic() + 5.0
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = [pid for pid in pids if alive(pid)]
        if not pids:
            return


@pytest.fixture(scope="session", autouse=True)
def _no_node_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The safety net: a node still running once every test is done is stopped, and reported
    as an error (a leaked node holds a port and keeps serving after CI has moved on)."""
    yield
    leftovers = _leftover_node_pids(VEIL_HOMES)
    if sys.platform == "linux":  # the node's own directory names it best: it wins
        leftovers = _stray_node_pids(tmp_path_factory.getbasetemp().resolve()) | leftovers
    if not leftovers:
        return
    _stop_processes(sorted(leftovers))
    listed = ", ".join(f"pid {pid} ({where})" for pid, where in sorted(leftovers.items()))
    pytest.fail(
        f"{len(leftovers)} node process(es) were still running after the tests "
        f"(stopped now; a test or fixture does not stop what it starts): {listed}",
        pytrace=False,
    )
