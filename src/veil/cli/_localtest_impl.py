"""The ``veil localtest`` handler (parser in :mod:`veil.cli.localtest`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from veil.cli._output import emit_json, err_console
from veil.dev.localtest import run_localtest
from veil.errors import ConfigError

__all__ = ["localtest_command"]


def localtest_command(args: argparse.Namespace) -> int:
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
