"""``veil scaffold NAME``: create a runnable example app to start from.

Only the parser lives here; the handler loads when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from veil.cli.operator import lazy_handler

__all__ = ["FRAMEWORK_NAMES", "register"]

#: ``veil.dev.scaffold.FRAMEWORKS``, spelled out so that building the parser imports none of
#: the scaffolding code (a test keeps them equal).
FRAMEWORK_NAMES: Final = ("fastapi", "flask")


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
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=lazy_handler("_scaffold_impl", "scaffold_command"))
