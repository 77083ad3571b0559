"""argparse value types shared by the command modules (light: built with the parser)."""

from __future__ import annotations

import argparse
from typing import Final

__all__ = ["MAX_PORT", "port_number"]

#: TCP ports are 16-bit; port 0 would mean "any port" to the kernel, so the range starts at 1.
MAX_PORT: Final = 65535


def port_number(text: str) -> int:
    """``--port``: a TCP port, 1 to 65535 (argparse turns the error into a usage error)."""
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1 to {MAX_PORT})")
    return port
