"""Entry point of the ``veil`` command: builds the parser from the command modules and turns
errors into one line on stderr and an exit code."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol

from veil import __version__
from veil.errors import VeilError

__all__ = ["build_parser", "main"]

#: Modules under ``veil.cli`` that each define ``register(subparsers)``. A command module adds
#: its subcommand(s) and sets ``func`` (``(argparse.Namespace) -> int``) as the parser default.
COMMAND_MODULES: tuple[str, ...] = (
    "measure",
    "package",
    "fingerprint",
    "scaffold",
    "localtest",
    "keygen",
    "seal",
    "attest",
    "operator",
    "owner",
)


class _Handler(Protocol):
    def __call__(self, args: argparse.Namespace, /) -> int: ...


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="veil",
        description="Deploy confidential Python web apps into Trusted Execution Environments.",
    )
    parser.add_argument("--version", action="version", version=f"veil {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logs on failure"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"veil.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: _Handler = args.func
    try:
        return handler(args)
    except VeilError as e:
        # Rendering loads only on this path: building the parser stays free of rich.
        from rich.markup import escape  # noqa: PLC0415

        from veil.cli._output import err_console  # noqa: PLC0415

        if args.debug:
            err_console.print_exception()
        err_console.print(f"[bold red]veil: error:[/] {escape(str(e))}")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("veil: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
