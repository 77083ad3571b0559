"""Handlers of ``veil package``, ``decrypt`` and ``fingerprint`` (parsers: ``_build_parsers``)."""

from __future__ import annotations

import argparse

from rich.markup import escape

from veil.cli._options import wheel_store
from veil.cli._output import byte_progress, emit_json, out_console
from veil.crypto.keys import read_code_key
from veil.errors import ConfigError, OperationError
from veil.owner.packaging import (
    PlainArchive,
    package_source,
    plaintext_size,
    write_plain_archive,
)
from veil.package.encrypted import decrypt_package, read_package_header
from veil.package.fingerprint import fingerprint_source
from veil.package.source import prepared_source

__all__ = ["decrypt_command", "fingerprint_command", "package_command"]


def package_command(args: argparse.Namespace) -> int:
    if not (args.key_out or args.key or args.plain):
        raise ConfigError("give --key-out KEYFILE (new key), --key KEYFILE, or --plain")
    if args.output.exists() and not args.force:
        raise OperationError(f"{args.output} already exists; use --force to overwrite it")
    with prepared_source(
        args.directory,
        find_links=args.wheels_from,
        no_index=args.no_index,
        wheel_store=wheel_store(args),
    ) as source:
        if args.plain:
            return _plain(args, write_plain_archive(source, args.output, overwrite=args.force))
        with byte_progress(
            f"packaging {source.config.name}", source.plan.size, enabled=not args.json
        ) as progress:
            task = progress.task_ids[0]
            info = package_source(
                source,
                args.output,
                key_file=args.key,
                key_out=args.key_out,
                overwrite=args.force,
                on_progress=lambda n: progress.advance(task, n),
            )
    result = {
        "name": info.name,
        "fingerprint": info.fingerprint,
        "key_id": info.key_id,
        "path": str(info.path),
        "size": info.size,
    }
    if args.json:
        emit_json(result)
        return 0
    out_console.print(f"packaged [bold]{escape(info.name)}[/] into {escape(str(info.path))}")
    out_console.print(f"  fingerprint  {info.fingerprint}", soft_wrap=True)
    out_console.print(f"  key id       {info.key_id}")
    out_console.print(f"  size         {info.size} bytes")
    if args.key_out is not None:
        out_console.print(
            f"  code key     {escape(str(args.key_out))} (keep it secret: it decrypts the app)"
        )
    return 0


def _plain(args: argparse.Namespace, archive: PlainArchive) -> int:
    if args.json:
        emit_json(
            {
                "name": archive.name,
                "fingerprint": archive.fingerprint,
                "path": str(archive.path),
                "size": archive.size,
            }
        )
    else:
        out_console.print(f"wrote the plaintext archive of {escape(archive.name)}")
        out_console.print(f"  fingerprint  {archive.fingerprint}", soft_wrap=True)
    return 0


def decrypt_command(args: argparse.Namespace) -> int:
    key = read_code_key(args.key)
    header = read_package_header(args.package)
    total = plaintext_size(header)
    with byte_progress(f"decrypting {header.app_name}", total, enabled=not args.json) as progress:
        task = progress.task_ids[0]
        decrypted = decrypt_package(
            args.package,
            key=key,
            dest_dir=args.output,
            on_progress=lambda n: progress.advance(task, n),
        )
    result = {
        "name": decrypted.header.app_name,
        "fingerprint": decrypted.header.fingerprint,
        "key_id": decrypted.header.key_id,
        "directory": str(decrypted.directory),
    }
    if args.json:
        emit_json(result)
        return 0
    out_console.print(
        f"decrypted [bold]{escape(result['name'])}[/] into {escape(result['directory'])}"
    )
    out_console.print(f"  fingerprint  {result['fingerprint']} (verified)", soft_wrap=True)
    return 0


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
