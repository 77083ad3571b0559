"""Stop signals (SIGTERM, SIGINT) received before the node's event loop handles them."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Final

__all__ = ["STOP_SIGNALS", "early_stop_signal", "record_stop_signals"]

#: The signals that ask the node to stop (``veil stop`` sends SIGTERM).
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)

_received: list[signal.Signals] = []


def _record(signum: int, _frame: FrameType | None) -> None:
    _received.append(signal.Signals(signum))


def record_stop_signals() -> None:
    """From now until the event loop installs its handlers, remember a stop signal.

    Importing the node and creating its keys takes seconds on a loaded machine; with the
    default dispositions a ``veil stop`` in that window killed the node without a log line
    (SIGTERM) or with a traceback (SIGINT). Must run in the main thread.
    """
    for sig in STOP_SIGNALS:
        signal.signal(sig, _record)


def early_stop_signal() -> signal.Signals | None:
    """The first stop signal recorded since :func:`record_stop_signals`, if any."""
    return _received[0] if _received else None
