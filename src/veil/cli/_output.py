"""Shared rendering for CLI commands: JSON on stdout, human text and progress on stderr."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = [
    "byte_progress",
    "emit_json",
    "emit_json_line",
    "err_console",
    "error",
    "error_text",
    "log_text",
    "one_line",
    "out_console",
    "warn",
]

#: Human-oriented output. Results go to stdout; diagnostics, warnings and progress to stderr,
#: so that ``--json`` output on stdout stays machine-readable.
out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def emit_json(obj: Any) -> None:
    """Print one JSON document on stdout (the only thing printed in ``--json`` mode)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def emit_json_line(obj: Any) -> None:
    """Print one compact JSON document on one line of stdout (JSON lines, for streams)."""
    sys.stdout.write(json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def one_line(message: str) -> str:
    """``message`` with its line breaks folded, so that one error or warning is one line that
    ``grep`` and log collectors keep whole."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def _print_line(prefix: str, message: str) -> None:
    # soft_wrap: rich would otherwise hard-wrap at the terminal width (80 columns when piped),
    # splitting hex digests and paths across lines; escape: a message may quote "[...]".
    from rich.markup import escape  # noqa: PLC0415 - rich.markup is loaded by rich.console

    err_console.print(f"{prefix} {escape(one_line(message))}", soft_wrap=True)


def error(message: str) -> None:
    """Render an error: one line on stderr, whatever the terminal width."""
    _print_line("[bold red]veil: error:[/]", message)


def warn(message: str) -> None:
    """Render a warning: one line on stderr starting with ``warning:``."""
    _print_line("[bold yellow]warning:[/]", message)


@contextmanager
def byte_progress(description: str, total: int | None, *, enabled: bool) -> Iterator[Progress]:
    """A progress bar over bytes on stderr; disabled (and silent) when not a terminal."""
    # Loaded here: most commands never draw a bar, and rich.progress is slow to import.
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not enabled or not err_console.is_terminal,
        transient=True,
    )
    with progress:
        progress.add_task(description, total=total)
        yield progress


#: The library's names of the policy switches that weaken a check, and the CLI flag of each.
_POLICY_SWITCHES: Final = {
    "allow_simulated_insecure": "--allow-simulated-insecure",
    "allow_debug_insecure": "--allow-debug-insecure",
    "allow_sept_ve_insecure": "--allow-sept-ve-insecure",
}
_REFUSED_UNLESS = re.compile(r"refused unless (allow_[a-z_]+_insecure)")
_SWITCH = re.compile(r"\b(allow_[a-z_]+_insecure)\b")


def error_text(e: BaseException, options: Collection[str] = ()) -> str:
    """What the CLI says about ``e``: its message in the terms of the command line.

    The library speaks of its keyword arguments (``allow_simulated_insecure``), which is right
    for library users; a CLI user can only change flags, so policy refusals name the flag the
    running command has (``options``: its option strings), or say that it has none.
    """
    from veil.attestation.errors import PolicyError  # noqa: PLC0415 - only on the error path

    if not isinstance(e, PolicyError):
        return one_line(str(e))

    def unless(match: re.Match[str]) -> str:
        flag = _POLICY_SWITCHES.get(match.group(1))
        if flag is not None and flag in options:
            return f"pass {flag} to accept it anyway (insecure: test data only)"
        return "refused (this command has no option to accept it)"

    detail, switched = _REFUSED_UNLESS.subn(unless, e.detail)
    what = "the attestation policy refused the evidence"
    return one_line(f"{what}: {detail}" if switched else f"{what} ({e.rule}): {detail}")


def log_text(message: str) -> str:
    """A library log message with its policy switch names spelled as CLI flags."""
    return _SWITCH.sub(lambda m: _POLICY_SWITCHES.get(m.group(1), m.group(1)), message)
