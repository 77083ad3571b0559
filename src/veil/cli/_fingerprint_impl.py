"""The ``veil fingerprint`` handler (parser in :mod:`veil.cli.fingerprint`)."""

from __future__ import annotations

import argparse

from veil.cli._output import byte_progress, emit_json, out_console
from veil.cli._vendoring import wheel_store
from veil.package.fingerprint import fingerprint_source
from veil.package.source import prepared_source

__all__ = ["fingerprint_command"]


def fingerprint_command(args: argparse.Namespace) -> int:
    with (
        prepared_source(
            args.directory,
            find_links=args.wheels_from,
            no_index=args.no_index,
            wheel_store=wheel_store(args),
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
