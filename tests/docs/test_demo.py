"""README's one command, ``./scripts/demo.sh``, runs to the end, offline.

The demo first runs ``scripts/setup.sh``, which installs veil into ``.venv`` from the package
index: a test must neither reach the network nor reinstall the environment it runs in. So the
demo runs from a copy of the checkout with what it uses (``scripts/demo.sh`` unchanged, the
example pinned to the installed versions, ``.venv`` this environment) and a ``setup.sh`` that
does nothing, since this environment is set up already.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Final

import pytest

from tests.conftest import REPO_ROOT
from tests.docs._workdir import link_venv, offline_env
from tests.e2e._wheels import offline_copy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEMO_TIMEOUT_SECONDS: Final = 300


def test_demo_runs_offline(tmp_path: Path, docs_wheelhouse: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "scripts" / "demo.sh", checkout / "scripts" / "demo.sh")
    (checkout / "scripts" / "setup.sh").write_text(
        "# The test's stand-in: the environment running the tests is set up already.\n"
    )
    (checkout / "examples").mkdir()
    offline_copy(REPO_ROOT / "examples" / "hello-fastapi", checkout / "examples")
    link_venv(checkout / ".venv")
    # demo.sh keeps its own VEIL_HOME in a temporary directory (under TMPDIR, set here).
    env = offline_env(tmp_path, wheelhouse=docs_wheelhouse, veil_home=None)
    with subprocess.Popen(
        ["bash", str(checkout / "scripts" / "demo.sh")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    ) as demo:
        try:
            output, _ = demo.communicate(timeout=DEMO_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            # SIGTERM first: the demo's trap stops its node and removes its directory.
            os.killpg(demo.pid, signal.SIGTERM)
            output, _ = demo.communicate(timeout=30)
            pytest.fail(f"demo.sh did not finish in {DEMO_TIMEOUT_SECONDS} s:\n{output}")
    assert demo.returncode == 0, f"demo.sh exited {demo.returncode}:\n{output}"
    assert '{"message":"Hello, veil!"}' in output, output
    assert "== done" in output, output
    # The demo cleans up after itself: nothing of it is left in TMPDIR.
    assert not list((tmp_path / "tmp").glob("veil-demo.*")), output
