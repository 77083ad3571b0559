"""``veil fingerprint DIR``: recompute an app's fingerprint from its plaintext source."""

from __future__ import annotations

import argparse
from pathlib import Path

from veil.cli._output import byte_progress, emit_json, out_console
from veil.cli.package import add_vendoring_options
from veil.package.fingerprint import fingerprint_source
from veil.package.source import prepared_source

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fingerprint",
        help="recompute an app's fingerprint from its source (no key needed)",
        description=(
            "Recompute the fingerprint of the app in DIR exactly as 'veil package' does, from "
            "the plaintext files alone, to compare with a package header or attestation evidence."
        ),
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="app directory (veil.toml)")
    add_vendoring_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    with (
        prepared_source(
            args.directory, find_links=args.wheels_from, no_index=args.no_index
        ) as source,
        byte_progress(
            f"hashing {source.config.name}", source.plan.size, enabled=not args.json
        ) as progress,
    ):
        task = progress.task_ids[0]
        result = fingerprint_source(source, on_progress=lambda n: progress.advance(task, n))
    if args.json:
        emit_json(
            {
                "fingerprint": result.fingerprint,
                "name": source.config.name,
                "archive_sha256": result.archive_sha256,
                "archive_size": result.archive_size,
            }
        )
    else:
        out_console.print(result.fingerprint, soft_wrap=True)
    return 0
