"""The ``veil localtest`` handler (parser in :mod:`veil.cli.dev`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Final

from veil.cli._output import emit_json, err_console
from veil.dev.localtest import AppServerError, run_localtest
from veil.errors import ConfigError

__all__ = ["TESTS_FAILED_EXIT_CODE", "localtest_command"]

#: Exit code of ``veil localtest`` when the app's tests did not pass (docs/cli.md).
TESTS_FAILED_EXIT_CODE: Final = 1


def localtest_command(args: argparse.Namespace) -> int:
    try:
        pytest_args = shlex.split(args.pytest_args)
    except ValueError as e:
        raise ConfigError(f"--pytest-args: {e}") from None
    try:
        result = run_localtest(
            args.directory,
            port=args.port,
            startup_timeout=args.timeout,
            pytest_args=pytest_args,
            capture_output=args.json,
        )
    except AppServerError as e:
        if args.debug:  # the error itself stays one line; the app's own output on request
            sys.stderr.write(f"app server log:\n{e.log}\n")
        raise
    # pytest's own status (1 failed, 2 interrupted, 5 no tests...) would read as one of veil's
    # exit codes; it is reported in --json and the exit code is TESTS_FAILED_EXIT_CODE.
    code = 0 if result.exit_status == 0 else TESTS_FAILED_EXIT_CODE
    if args.json:
        sys.stderr.write(result.output or "")
        emit_json(
            {
                "exit_status": result.exit_status,
                "passed": result.exit_status == 0,
                "url": result.url,
            }
        )
        return code
    verdict = "[green]passed[/]" if result.exit_status == 0 else "[bold red]failed[/]"
    err_console.print(f"localtest: tests {verdict} against {result.url}")
    return code
