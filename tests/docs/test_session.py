"""The shell session that runs a file's blocks (tests/docs/_session.py), on plain commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs._blocks import parse_blocks
from tests.docs._session import DOCS_PORT, BlockResult, ShellSession, failure_message

DOC = Path("/repo/docs/guide.md")
ROOT = Path("/repo")


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[ShellSession]:
    (tmp_path / "work").mkdir()
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["VEIL_HOME"] = str(tmp_path / "veil-home")
    session = ShellSession(work=tmp_path / "work", scratch=tmp_path / "blocks", env=env, port=1234)
    try:
        yield session
    finally:
        session.close()


def _run_all(shell: ShellSession, text: str) -> list[BlockResult]:
    results = []
    for block in parse_blocks(text, DOC):
        if block.runs:
            results.append(shell.run(block, timeout=30))
            if not results[-1].ok:
                break
    return results


def test_blocks_share_variables_and_directory(shell: ShellSession) -> None:
    results = _run_all(
        shell,
        "```sh\nGREETING=hello\nmkdir sub && cd sub\n```\n\n"
        '```sh\necho "$GREETING from $PWD"\n```\n',
    )
    assert [r.ok for r in results] == [True, True]
    assert results[1].output == f"hello from {shell.work / 'sub'}\n"


def test_a_failing_command_names_file_block_line_command_and_output(
    shell: ShellSession,
) -> None:
    text = "intro\n\n```sh\necho before\nls /no/such/path\necho after\n```\n"
    (result,) = _run_all(shell, text)
    assert not result.ok
    assert result.exit_code == 2
    assert result.failed_line == 5
    message = failure_message(result, root=ROOT)
    assert message.startswith(
        "docs/guide.md:3: sh block exited 2: `ls /no/such/path` (line 5)\n--- output ---\nbefore\n"
    )
    assert "No such file or directory" in message
    assert "after" not in message
    assert not shell.alive  # set -e: nothing after the failure runs


def test_an_unset_variable_fails_the_block(shell: ShellSession) -> None:
    (result,) = _run_all(shell, "```sh\necho $NOT_SET_ANYWHERE\n```\n")
    assert not result.ok
    assert "NOT_SET_ANYWHERE" in result.output


def test_the_docs_port_becomes_the_sessions(shell: ShellSession) -> None:
    (result,) = _run_all(shell, f"```sh\necho https://127.0.0.1:{DOCS_PORT}/ 18443\n```\n")
    assert result.output == "https://127.0.0.1:1234/ 18443\n"


def test_a_marked_python_block_runs_in_the_session_directory(shell: ShellSession) -> None:
    results = _run_all(
        shell,
        "```sh\necho data > file.txt\n```\n<!-- docs-test: run -->\n```python\n"
        "from pathlib import Path\nprint(Path('file.txt').read_text().strip())\n```\n",
    )
    assert results[1].ok
    assert results[1].output == "data\n"


def test_a_failing_python_block_shows_its_traceback(shell: ShellSession) -> None:
    (result,) = _run_all(shell, "<!-- docs-test: run -->\n```python\nraise SystemExit('no')\n```\n")
    assert not result.ok
    assert result.failed_line is None
    assert failure_message(result, root=ROOT).startswith("docs/guide.md:2: python block exited 1")
    assert "no" in result.output


def test_a_block_that_hangs_is_killed(shell: ShellSession) -> None:
    (block,) = parse_blocks("```sh\necho started\nsleep 60\n```\n", DOC)
    result = shell.run(block, timeout=0.5)
    assert result.timed_out
    assert not shell.alive
    assert failure_message(result, root=ROOT).startswith(
        "docs/guide.md:1: sh block did not finish in time\n--- output ---\nstarted"
    )


def test_a_block_that_is_not_run_is_refused(shell: ShellSession) -> None:
    (block,) = parse_blocks("```json\n{}\n```\n", DOC)
    with pytest.raises(ValueError, match="not a block the docs test runs"):
        shell.run(block, timeout=1)


def test_stopping_nodes_of_an_empty_home_finds_nothing(shell: ShellSession) -> None:
    assert shell.stop_nodes() == []
