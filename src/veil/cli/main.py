"""Entry point of ``veil``: the parser of every role's commands; errors as one line and a code."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Final, NoReturn, Protocol

from veil import __version__
from veil.errors import ConfigError, VeilError

__all__ = ["USAGE_EXIT_CODE", "VeilArgumentParser", "build_parser", "main"]

# Exit codes are tabled in docs/cli.md ("Exit codes"); each comes from the error's class.

#: Where each group of subcommands is registered: ``veil.cli.<module>.<function>(subparsers)``
#: adds them and sets ``func`` (``(argparse.Namespace) -> int``, a ``LazyHandler``) on each.
#: Grouped by role; the order is the one ``veil --help`` lists them in.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("owner", "register_build"),
    ("dev", "register"),
    ("owner", "register_keys"),
    ("attest", "register"),
    ("operator", "register"),
    ("owner", "register_deploy"),
)

#: Exit code of a command line argparse refuses. argparse's own is 2, which veil gives to
#: invalid data (``InvalidDataError``); a wrong option is a configuration error whether argparse
#: or a handler notices it (``--port 70000`` and ``--untrusted-ssl-cert`` without its key alike).
USAGE_EXIT_CODE: Final = ConfigError.exit_code


class VeilArgumentParser(argparse.ArgumentParser):
    """argparse, with its errors in veil's form: one line on stderr and ``USAGE_EXIT_CODE``."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"veil: error: {self.prog}: {message} (see `{self.prog} --help`)\n")
        sys.exit(USAGE_EXIT_CODE)


class _Handler(Protocol):
    def __call__(self, args: argparse.Namespace, /) -> int: ...


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        return [parser]
    return [leaf for a in subcommands for p in a.choices.values() for leaf in _leaf_parsers(p)]


def build_parser() -> argparse.ArgumentParser:
    parser = VeilArgumentParser(
        prog="veil",
        description="Deploy confidential Python web apps into Trusted Execution Environments.",
        epilog="Exit codes: see docs/cli.md. Errors are one line on stderr.",
    )
    parser.add_argument("--version", action="version", version=f"veil {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logs on failure"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module, function in COMMANDS:
        getattr(importlib.import_module(f"veil.cli.{module}"), function)(subparsers)
    for leaf in _leaf_parsers(parser):
        # Error messages name the flags of the command that runs (veil.cli._output.error_text).
        options = frozenset(s for a in leaf._actions for s in a.option_strings)
        leaf.set_defaults(cli_options=options)
    return parser


class _LogToWarnings(logging.Handler):
    """Library log records as the CLI's ``warning:`` lines (debug ones only with ``--debug``)."""

    def emit(self, record: logging.LogRecord) -> None:
        from veil.cli._output import err_console, log_text, one_line, warn  # noqa: PLC0415

        message = log_text(record.getMessage())
        if record.levelno >= logging.WARNING:
            warn(message)
        else:
            err_console.print(f"debug: {one_line(message)}", soft_wrap=True, markup=False)


def _configure_logging(*, debug: bool) -> Callable[[], None]:
    """Route veil's log records to the CLI's ``warning:`` lines; returns the undo."""
    # Without a handler, Python's last-resort one prints a warning bare ("INSECURE: ..."). The
    # logger keeps propagating, and the undo runs when main() returns, so that a process that
    # embeds main() (tests) keeps its own logging as it was.
    logger = logging.getLogger("veil")
    handler = _LogToWarnings(logging.DEBUG if debug else logging.WARNING)
    level = logger.level
    logger.addHandler(handler)
    if debug:
        logger.setLevel(logging.DEBUG)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    return undo


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: _Handler = args.func
    restore_logging = _configure_logging(debug=args.debug)
    try:
        return handler(args)
    except VeilError as e:
        # Rendering loads only on this path: building the parser stays free of rich.
        from veil.cli._output import err_console, error, error_text  # noqa: PLC0415

        if args.debug:
            err_console.print_exception()
        error(error_text(e, args.cli_options))
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("veil: interrupted\n")
        return 130
    finally:
        restore_logging()


if __name__ == "__main__":
    sys.exit(main())
