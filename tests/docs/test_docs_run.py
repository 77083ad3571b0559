"""Every command block of README.md and docs/*.md runs as written, on the simulated backend.

One shell session per file (tests/docs/_session.py) in a fresh working directory that holds
what a reader's checkout holds for the docs: ``examples/`` and ``.venv``. Offline: pip takes
wheels from a wheelhouse repacked from this environment (``PIP_FIND_LINKS``, ``PIP_NO_INDEX``),
and before each block the pins of every app in the directory (the examples, an app a block
scaffolded) are rewritten to the versions installed here, which are the ones that wheelhouse
holds. Each file's nodes are stopped at the end, whatever happened.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.conftest import REPO_ROOT, register_veil_home
from tests.docs._blocks import Block, doc_files, read_blocks
from tests.docs._session import ShellSession, failure_message
from tests.docs._workdir import free_port, link_venv, offline_env, repin_apps

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: Longest a block may take (a cold ``veil localtest`` or ``veil deploy`` on a slow machine).
BLOCK_TIMEOUT_SECONDS: Final = 180.0


def _name(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def _blocks() -> dict[Path, list[Block]]:
    return {path: read_blocks(path) for path in doc_files(REPO_ROOT)}


_ALL = _blocks()
_RUN_FILES = [path for path, blocks in _ALL.items() if any(b.runs for b in blocks)]
_SKIPPED = [b for blocks in _ALL.values() for b in blocks if b.is_shell and b.skip is not None]


@pytest.fixture
def session(tmp_path: Path, docs_wheelhouse: Path) -> Iterator[ShellSession]:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(
        REPO_ROOT / "examples",
        work / "examples",
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"),
    )
    link_venv(work / ".venv")
    home = register_veil_home(tmp_path / "veil-home")
    shell = ShellSession(
        work=work,
        scratch=tmp_path / "blocks",
        env=offline_env(tmp_path, wheelhouse=docs_wheelhouse, veil_home=home),
        port=free_port(),
    )
    try:
        yield shell
    finally:
        shell.close()
        problems = shell.stop_nodes()
        if problems:
            pytest.fail("; ".join(problems), pytrace=False)


@pytest.mark.parametrize("path", _RUN_FILES, ids=_name)
def test_doc_blocks_run(path: Path, session: ShellSession) -> None:
    for block in _ALL[path]:
        if not block.runs:
            continue
        repin_apps(session.work)
        result = session.run(block, timeout=BLOCK_TIMEOUT_SECONDS)
        if not result.ok:
            pytest.fail(failure_message(result, root=REPO_ROOT), pytrace=False)


@pytest.mark.parametrize("block", _SKIPPED, ids=lambda b: b.where(REPO_ROOT))
def test_doc_block_skipped(block: Block) -> None:
    """Each block the docs mark as not run shows up in the report with its reason."""
    pytest.skip(f"{block.where(REPO_ROOT)}: {block.skip}")
