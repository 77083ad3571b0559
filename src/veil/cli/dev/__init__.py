"""Developer commands: ``veil scaffold`` and ``veil localtest`` (handlers load when run)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from veil.cli._lazy import lazy_handler
from veil.cli._options import add_json_option, port_number

__all__ = ["APP_URL_ENV", "DEFAULT_STARTUP_TIMEOUT", "FRAMEWORK_NAMES", "register"]

#: ``veil.dev.scaffold.FRAMEWORKS``, spelled out so that building the parser imports none of
#: the scaffolding code (a test keeps them equal).
FRAMEWORK_NAMES: Final = ("fastapi", "flask")
#: ``veil.dev.localtest.APP_URL_ENV`` and ``DEFAULT_STARTUP_TIMEOUT`` (seconds), spelled out so
#: that building the parser imports no HTTP client (a test keeps them equal).
APP_URL_ENV: Final = "VEIL_APP_URL"
DEFAULT_STARTUP_TIMEOUT: Final = 30.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scaffold",
        help="create a runnable example app (FastAPI or Flask) with tests and veil.toml",
        description="Write a new app directory PARENT/NAME; an existing path is never touched.",
    )
    parser.add_argument("name", metavar="NAME", help="app name: a lowercase DNS label")
    parser.add_argument(
        "--framework", choices=FRAMEWORK_NAMES, default="fastapi", help="(default: %(default)s)"
    )
    parser.add_argument(
        "--dir", type=Path, default=Path(), metavar="PARENT", help="where to create NAME/"
    )
    add_json_option(parser)
    parser.set_defaults(func=lazy_handler("dev._scaffold", "scaffold_command"))

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
    parser.add_argument("--port", type=port_number, help="port to serve on (default: a free one)")
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
    add_json_option(parser, "print JSON on stdout (test output goes to stderr)")
    parser.set_defaults(func=lazy_handler("dev._localtest", "localtest_command"))
