"""One shell session per Markdown file: its blocks run in order, like a reader's terminal.

The blocks of a file share one ``bash`` process (so a variable or ``. .venv/bin/activate`` of
one block holds in the next), one working directory and one private ``VEIL_HOME``. The
session runs under ``set -euo pipefail``: the first command that fails ends it, and the trap
below names that command's line so the error can point at the line of the docs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from tests.docs._blocks import Block

__all__ = ["DOCS_PORT", "BlockResult", "ShellSession", "failure_message"]

#: The port the docs use. Each session serves on a free port instead, so that two runs of the
#: suite on one machine (or a user's node on 8443) never collide; the text is otherwise as typed.
DOCS_PORT: Final = "8443"
_PORT_WORD: Final = re.compile(rf"\b{DOCS_PORT}\b")
_ERR_LINE: Final = re.compile(r"^docs-test: line (\d+) exited (\d+)$", re.MULTILINE)
#: How much of a failed block's output the error quotes: its end says what went wrong.
_OUTPUT_TAIL_CHARS: Final = 6000
_POLL_SECONDS: Final = 0.05

_PRELUDE: Final = """\
set -euo pipefail
trap 'echo "docs-test: line $LINENO exited $?" >&2' ERR
"""


@dataclass(frozen=True)
class BlockResult:
    block: Block
    #: 0 when every command succeeded.
    exit_code: int
    output: str
    #: The file's line of the command that failed, when the shell could tell.
    failed_line: int | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def failure_message(result: BlockResult, *, root: Path) -> str:
    """What a failing block's test says: file, line of the block and of the command, output."""
    block = result.block
    where = block.where(root)
    what = "did not finish in time" if result.timed_out else f"exited {result.exit_code}"
    lines = block.text.splitlines()
    command = ""
    if result.failed_line is not None:
        offset = result.failed_line - block.first_line_of_text()
        if 0 <= offset < len(lines):
            command = f": `{lines[offset].strip()}` (line {result.failed_line})"
    output = result.output
    if len(output) > _OUTPUT_TAIL_CHARS:
        output = "…" + output[-_OUTPUT_TAIL_CHARS:]
    return f"{where}: {block.language} block {what}{command}\n--- output ---\n{output.rstrip()}"


class ShellSession:
    """A ``bash`` process in ``work`` with ``env``; ``scratch`` holds the block scripts."""

    def __init__(self, *, work: Path, scratch: Path, env: Mapping[str, str], port: int) -> None:
        self.work = work
        self.scratch = scratch
        self.env = dict(env)
        self.port = port
        scratch.mkdir(parents=True, exist_ok=True)
        self._log: TextIO = (scratch / "session.log").open("w")
        # Its own process group, so that a block that hangs is killed with what it started.
        self._proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=work,
            env=self.env,
            text=True,
            start_new_session=True,
        )
        self._send(_PRELUDE)
        self._count = 0

    def _send(self, text: str) -> None:
        if self._proc.stdin is None:
            raise RuntimeError("the session has no stdin")
        self._proc.stdin.write(text)
        self._proc.stdin.flush()

    def _script_for(self, block: Block) -> Path:
        text = _PORT_WORD.sub(str(self.port), block.text)
        stem = f"{self._count:02d}-{block.path.name}-line{block.line}"
        if block.is_shell:
            script = self.scratch / f"{stem}.sh"
            script.write_text(text)
            return script
        # The python file is named after the block so that a traceback points at it.
        program = self.scratch / f"{stem}.py"
        program.write_text(text)
        script = self.scratch / f"{stem}.sh"
        script.write_text(f"python {shlex.quote(str(program))}\n")
        return script

    def run(self, block: Block, *, timeout: float) -> BlockResult:
        """Run ``block`` in the session (after earlier blocks); wait at most ``timeout`` s."""
        if not block.runs:
            raise ValueError(f"{block.where()} is not a block the docs test runs")
        self._count += 1
        script = self._script_for(block)
        out = script.with_suffix(".out")
        done = script.with_suffix(".rc")
        quoted = {name: shlex.quote(str(path)) for name, path in (("s", script), ("o", out))}
        # The block's stdin is /dev/null: a command that prompts must fail, not eat the
        # session's next commands. A failing command exits the shell (set -e), so no .rc.
        self._send(
            f"source {quoted['s']} >{quoted['o']} 2>&1 </dev/null; "
            f"echo $? >{shlex.quote(str(done))}.tmp && mv {shlex.quote(str(done))}.tmp "
            f"{shlex.quote(str(done))}\n"
        )
        deadline = time.monotonic() + timeout
        while not done.exists() and self._proc.poll() is None:
            if time.monotonic() > deadline:
                self._kill()
                return BlockResult(block, -1, _read(out), timed_out=True)
            time.sleep(_POLL_SECONDS)
        output = _read(out)
        if done.exists():
            return BlockResult(block, int(done.read_text().strip() or "0"), output)
        code = self._proc.wait()
        failed = _ERR_LINE.findall(output)
        failed_line = block.first_line_of_text() + int(failed[-1][0]) - 1 if failed else None
        if not block.is_shell:
            failed_line = None  # the wrapper's line, not the block's: the traceback says
        return BlockResult(block, code or 1, output, failed_line=failed_line)

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()

    def stop_nodes(self, *, grace: float = 5.0) -> list[str]:
        """Stop every node still running in the session's ``VEIL_HOME``; problems as text."""
        listing = subprocess.run(
            ["veil", "list", "--json"],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.work,
            timeout=60,
        )
        if listing.returncode != 0:
            return [f"veil list failed: {listing.stderr.strip()}"]
        problems = []
        for node in json.loads(listing.stdout)["nodes"]:
            if not node["running"]:
                continue
            stop = subprocess.run(
                ["veil", "stop", node["name"], "--grace", str(grace)],
                capture_output=True,
                text=True,
                env=self.env,
                cwd=self.work,
                timeout=grace + 30,
            )
            if stop.returncode != 0:
                problems.append(f"veil stop {node['name']} failed: {stop.stderr.strip()}")
        return problems

    def close(self) -> None:
        if self._proc.poll() is None and self._proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill()
        elif self._proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        self._log.close()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
