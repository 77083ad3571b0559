"""Read a node's log: its last lines for an error message, or every line, following new ones."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

__all__ = ["LOG_TAIL_BYTES", "follow_log", "log_hint", "log_tail"]

#: How much of the end of a log ``log_tail`` reads.
LOG_TAIL_BYTES: Final = 4096
_TAIL_LINES: Final = 15
#: Log lines quoted in a node error: its reason line is usually the last; errors are one line.
_HINT_LINES: Final = 5
_READ_CHUNK: Final = 64 * 1024


def log_tail(log: Path, max_bytes: int = LOG_TAIL_BYTES) -> str:
    """The last lines of ``log`` (empty when there is none)."""
    try:
        with log.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-_TAIL_LINES:])


def log_hint(log: Path, name: str) -> str:
    """``; last lines of its log …`` to append to an error about node ``name``, or ``""``."""
    lines = [line.strip() for line in log_tail(log).splitlines() if line.strip()]
    if not lines:
        return ""
    return f"; last lines of its log (veil logs {name}): " + " | ".join(lines[-_HINT_LINES:])


def follow_log(
    log: Path,
    *,
    follow: bool,
    poll: float = 0.2,
    stop: Callable[[], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Yield the lines of ``log``; with ``follow``, keep yielding new ones until ``stop()``."""
    try:
        f = log.open("rb")
    except FileNotFoundError:
        return
    with f:
        pending = b""
        while True:
            chunk = f.read(_READ_CHUNK)
            if chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", errors="replace")
                continue
            if not follow or (stop is not None and stop()):
                if pending:
                    yield pending.decode("utf-8", errors="replace")
                return
            sleep(poll)
