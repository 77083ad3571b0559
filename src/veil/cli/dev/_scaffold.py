"""The ``veil scaffold`` handler (parser in :mod:`veil.cli.dev`)."""

from __future__ import annotations

import argparse

from rich.markup import escape

from veil.cli._output import emit_json, out_console
from veil.dev.scaffold import render_app, write_app

__all__ = ["scaffold_command"]


def scaffold_command(args: argparse.Namespace) -> int:
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
