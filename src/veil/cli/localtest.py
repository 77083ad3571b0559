"""``veil localtest [DIR]``: serve an app locally without a TEE and run its tests against it."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from veil.cli._output import emit_json, err_console
from veil.dev.localtest import APP_URL_ENV, DEFAULT_STARTUP_TIMEOUT, run_localtest
from veil.errors import ConfigError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "localtest",
        help="serve an app locally (no TEE) and run its tests against it",
        description=(
            "Serve the app in DIR with uvicorn on 127.0.0.1 (WSGI apps through a2wsgi), wait "
            f"for its healthcheck, run 'python -m pytest' in DIR with {APP_URL_ENV} set to the "
            "app's URL, stop the server, and exit with the tests' status. No TEE, no encryption: "
            "this checks the app itself."
        ),
    )
    parser.add_argument(
        "directory", type=Path, nargs="?", default=Path(), metavar="DIR", help="(default: .)"
    )
    parser.add_argument("--port", type=int, help="port to serve on (default: a free one)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_STARTUP_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the healthcheck (default: %(default)s)",
    )
    parser.add_argument(
        "--pytest-args",
        default="",
        metavar="ARGS",
        help="extra pytest arguments in one shell-quoted string, e.g. --pytest-args='-x -k hello'",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON on stdout (test output goes to stderr)"
    )
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    try:
        pytest_args = shlex.split(args.pytest_args)
    except ValueError as e:
        raise ConfigError(f"--pytest-args: {e}") from None
    result = run_localtest(
        args.directory,
        port=args.port,
        startup_timeout=args.timeout,
        pytest_args=pytest_args,
        capture_output=args.json,
    )
    if args.json:
        sys.stderr.write(result.output or "")
        emit_json({"exit_status": result.exit_status, "passed": result.exit_status == 0})
        return result.exit_status
    verdict = "[green]passed[/]" if result.exit_status == 0 else "[bold red]failed[/]"
    err_console.print(f"localtest: tests {verdict} against {result.url}")
    return result.exit_status
