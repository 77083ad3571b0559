"""A reader's working directory and shell environment, offline, for the docs tests."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Final

from tests.e2e._wheels import pin_installed

__all__ = ["free_port", "link_venv", "offline_env", "repin_apps"]

#: Environment variables of the test process that a reader's shell would not have.
_DROPPED_PREFIXES: Final = ("VEIL_", "PIP_", "VIRTUAL_ENV", "PYTEST_", "COV_CORE_", "COVERAGE_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def link_venv(target: Path) -> None:
    """``target`` (a ``.venv``) is the environment running the tests, as in a set-up checkout."""
    if sys.prefix != sys.base_prefix:
        target.symlink_to(sys.prefix, target_is_directory=True)
        return
    # Not in a virtual environment: a stand-in whose ``activate`` puts the interpreter first.
    (target / "bin").mkdir(parents=True)
    bindir = Path(sys.executable).parent
    (target / "bin" / "activate").write_text(f'export PATH="{bindir}:$PATH"\n')


def offline_env(tmp: Path, *, wheelhouse: Path, veil_home: Path | None) -> dict[str, str]:
    """This process's environment for a shell under ``tmp``: veil on the PATH, pip offline
    (wheels from ``wheelhouse`` only), caches and temporary files under ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', os.defpath)}",
        XDG_CACHE_HOME=str(tmp / "cache"),
        # The node's and pip's temporary files stay under the test's directory, where the
        # session's safety net (tests/conftest.py) looks for processes left running.
        TMPDIR=str(tmp / "tmp"),
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    if veil_home is not None:
        env["VEIL_HOME"] = str(veil_home)
    (tmp / "tmp").mkdir(exist_ok=True)
    return env


def repin_apps(work: Path) -> None:
    """Pin the apps in ``work`` and one level below (``examples/NAME``) to the installed
    versions: the only ones an offline wheelhouse of this environment can hold."""
    for requirements in [*work.glob("*/requirements.txt"), *work.glob("*/*/requirements.txt")]:
        if ".venv" not in requirements.relative_to(work).parts:
            pin_installed(requirements)
