"""Shared rendering for CLI commands: JSON on stdout, human text and progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["byte_progress", "emit_json", "err_console", "out_console", "warn"]

#: Human-oriented output. Results go to stdout; diagnostics, warnings and progress to stderr,
#: so that ``--json`` output on stdout stays machine-readable.
out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def emit_json(obj: Any) -> None:
    """Print one JSON document on stdout (the only thing printed in ``--json`` mode)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    err_console.print(f"[bold yellow]warning:[/] {message}")


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
