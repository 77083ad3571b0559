"""The ``veil keygen`` handler (parser in :mod:`veil.cli.owner._key_parsers`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from veil.cli._output import emit_json, out_console
from veil.cli.owner._key_parsers import (
    DEFAULT_CODE_KEY_PATH,
    DEFAULT_SEALING_KEY_PATH,
    PUBLIC_KEY_SUFFIX,
)
from veil.crypto.digest import sha256_tagged
from veil.crypto.hpke import DEFAULT_SEALING_SUITE, SealingPrivateKey, SealingSuite
from veil.crypto.keys import CodeKey, write_code_key
from veil.errors import ConfigError
from veil.sealing.keys import write_sealing_key_pair

__all__ = ["keygen_command"]


def keygen_command(args: argparse.Namespace) -> int:
    if args.sealing:
        return _sealing_keygen(args)
    if args.suite is not None:
        raise ConfigError("--suite applies only with --sealing")
    path: Path = args.output or DEFAULT_CODE_KEY_PATH
    key = CodeKey.generate()
    write_code_key(path, key)
    if args.json:
        emit_json({"key_id": key.key_id, "path": str(path)})
    else:
        out_console.print(f"wrote code key [bold]{key.key_id}[/] to {escape(str(path))}")
        out_console.print("keep this file secret and backed up: without it no package opens")
    return 0


def _sealing_keygen(args: argparse.Namespace) -> int:
    private_path: Path = args.output or DEFAULT_SEALING_KEY_PATH
    public_path = private_path.with_name(private_path.name + PUBLIC_KEY_SUFFIX)
    suite = SealingSuite(args.suite) if args.suite is not None else DEFAULT_SEALING_SUITE
    key = SealingPrivateKey.generate(suite=suite)
    write_sealing_key_pair(private_path, public_path, key)
    public_digest = sha256_tagged(key.public_key().to_bytes())
    if args.json:
        emit_json(
            {
                "suite": suite.value,
                "private_key_path": str(private_path),
                "public_key_path": str(public_path),
                "public_key_sha256": public_digest,
            }
        )
    else:
        out_console.print(
            f"wrote {suite.value} sealing private key to {escape(str(private_path))} "
            f"and public key to {escape(str(public_path))}"
        )
        out_console.print(f"public key {public_digest}")
    return 0
