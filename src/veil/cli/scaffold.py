"""``veil scaffold NAME``: create a runnable example app to start from."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from veil.cli._output import emit_json, out_console
from veil.dev.scaffold import FRAMEWORKS, render_app, write_app

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scaffold",
        help="create a runnable example app (FastAPI or Flask) with tests and veil.toml",
        description="Write a new app directory PARENT/NAME; an existing path is never touched.",
    )
    parser.add_argument("name", metavar="NAME", help="app name: a lowercase DNS label")
    parser.add_argument(
        "--framework", choices=FRAMEWORKS, default="fastapi", help="(default: %(default)s)"
    )
    parser.add_argument(
        "--dir", type=Path, default=Path(), metavar="PARENT", help="where to create NAME/"
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    target = write_app(args.name, framework=args.framework, parent=args.dir)
    files = sorted(render_app(args.name, framework=args.framework))
    if args.json:
        emit_json({"directory": str(target), "framework": args.framework, "files": files})
        return 0
    out_console.print(f"created {escape(str(target))} ({args.framework}):")
    for name in files:
        out_console.print(f"  {escape(name)}")
    out_console.print(f"next: veil localtest {escape(str(target))}")
    return 0
