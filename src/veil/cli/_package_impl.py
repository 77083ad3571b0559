"""The ``veil package`` and ``veil decrypt`` handlers (parsers in :mod:`veil.cli.package`)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from rich.markup import escape

from veil.cli._output import byte_progress, emit_json, out_console
from veil.cli._vendoring import wheel_store
from veil.crypto.keys import CodeKey, read_code_key, write_code_key
from veil.crypto.stream import TAG_SIZE
from veil.errors import ConfigError, OperationError
from veil.package.archive import write_archive
from veil.package.encrypted import decrypt_package, read_package_header, write_package
from veil.package.fingerprint import compute_fingerprint
from veil.package.source import AppSource, prepared_source

__all__ = ["decrypt_command", "package_command"]


def _refuse_packaged_output(source: AppSource, path: Path, what: str) -> None:
    if source.is_packaged(path):
        raise ConfigError(
            f"the {what} {path} would be packaged with the app; write it outside "
            f"{source.root} or add it to 'ignore' in veil.toml"
        )


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
        _refuse_packaged_output(source, args.output, "output file")
        if args.plain:
            return _write_plain(source, args)
        if args.key_out is not None:
            _refuse_packaged_output(source, args.key_out, "key file")
            key = CodeKey.generate()
            write_code_key(args.key_out, key)
        else:
            _refuse_packaged_output(source, args.key, "key file")
            key = read_code_key(args.key)
        try:
            with byte_progress(
                f"packaging {source.config.name}", source.plan.size, enabled=not args.json
            ) as progress:
                task = progress.task_ids[0]
                info = write_package(
                    source,
                    args.output,
                    key=key,
                    overwrite=args.force,
                    on_progress=lambda n: progress.advance(task, n),
                )
        except BaseException:
            if args.key_out is not None:
                with contextlib.suppress(OSError):
                    args.key_out.unlink()
            raise
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


def _write_plain(source: AppSource, args: argparse.Namespace) -> int:
    try:
        with args.output.open("wb" if args.force else "xb") as f:
            digest = write_archive(source.plan, f)
    except OSError as e:
        raise OperationError(f"cannot write {args.output}: {e.strerror or e}") from e
    fingerprint = compute_fingerprint(
        archive_sha256=digest, security_config=source.security.to_json()
    )
    result = {
        "name": source.config.name,
        "fingerprint": fingerprint,
        "path": str(args.output),
        "size": source.plan.size,
    }
    if args.json:
        emit_json(result)
    else:
        out_console.print(f"wrote the plaintext archive of {escape(source.config.name)}")
        out_console.print(f"  fingerprint  {fingerprint}", soft_wrap=True)
    return 0


def decrypt_command(args: argparse.Namespace) -> int:
    key = read_code_key(args.key)
    header = read_package_header(args.package)
    sealed_chunks = -(-header.body_size // (header.chunk_size + TAG_SIZE))
    total = header.body_size - TAG_SIZE * sealed_chunks
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
