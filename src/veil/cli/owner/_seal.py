"""The ``veil seal`` and ``veil unseal`` handlers (parsers: :mod:`veil.cli.owner._key_parsers`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from veil._io import read_bounded
from veil.cli._lazy import lazy_handler
from veil.cli._output import emit_json, err_console, out_console
from veil.cli.owner._key_parsers import STDIO
from veil.crypto.hpke import SealingPublicKey
from veil.crypto.keyfiles import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, write_key_file
from veil.errors import ConfigError, DecryptionError, FormatError, OperationError
from veil.sealing.envelope import (
    MAX_BINDING_BYTES,
    MAX_ENVELOPE_BYTES,
    MAX_SEALED_PLAINTEXT_BYTES,
    seal,
    unseal,
)
from veil.sealing.keys import read_sealing_private_key, read_sealing_public_key

__all__ = ["seal_command", "unseal_command"]

#: ``--evidence``: verify, then seal to that enclave (loads the verifier only then).
_SEAL_TO_EVIDENCE = lazy_handler("owner._seal_evidence", "seal_evidence_command")


def _binding(args: argparse.Namespace) -> bytes:
    binding = b""
    if args.binding_hex is not None:
        try:
            binding = bytes.fromhex(args.binding_hex)
        except ValueError:
            raise ConfigError("--binding-hex must be hexadecimal") from None
    elif args.binding is not None:
        binding = str(args.binding).encode("utf-8", "surrogateescape")
    if len(binding) > MAX_BINDING_BYTES:
        raise ConfigError(f"the binding must be at most {MAX_BINDING_BYTES} bytes")
    return binding


def _recipient(args: argparse.Namespace) -> SealingPublicKey:
    return read_sealing_public_key(args.to)


def _read_input(name: str, *, limit: int, what: str) -> bytes:
    if name != STDIO:
        return read_bounded(Path(name), max_bytes=limit, what=what)
    try:
        data = sys.stdin.buffer.read(limit + 1)
    except OSError as e:
        raise OperationError(f"cannot read {what} from stdin: {e.strerror or e}") from e
    if len(data) > limit:
        raise FormatError(f"{what} is larger than {limit} bytes")
    return data


def _check_output(args: argparse.Namespace) -> None:
    if args.output != STDIO:
        return
    if args.json:
        raise ConfigError("--json cannot be combined with -o - (stdout carries the data)")
    if sys.stdout.isatty():
        raise ConfigError("refusing to write binary or secret data to a terminal; use -o FILE")


def _write_output(args: argparse.Namespace, data: bytes, *, mode: int) -> None:
    if args.output == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    write_key_file(Path(args.output), data, overwrite=False, mode=mode)


def _target(args: argparse.Namespace) -> str:
    return "stdout" if args.output == STDIO else escape(str(args.output))


def _report(args: argparse.Namespace, message: str, doc: dict[str, Any]) -> None:
    if args.json:
        emit_json(doc)
        return
    console: Console = err_console if args.output == STDIO else out_console
    console.print(message)


def seal_command(args: argparse.Namespace) -> int:
    if args.evidence is not None:
        return _SEAL_TO_EVIDENCE(args)
    _check_output(args)
    binding = _binding(args)
    recipient = _recipient(args)
    plaintext = _read_input(args.input, limit=MAX_SEALED_PLAINTEXT_BYTES, what="input")
    try:
        envelope = seal(plaintext, recipient=recipient, binding=binding)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    _write_output(args, envelope, mode=PUBLIC_FILE_MODE)
    _report(
        args,
        f"sealed {len(plaintext)} bytes for the {recipient.suite.value} recipient key "
        f"into {_target(args)}",
        {"output": args.output, "suite": recipient.suite.value, "bytes": len(envelope)},
    )
    return 0


def unseal_command(args: argparse.Namespace) -> int:
    _check_output(args)
    binding = _binding(args)
    key = read_sealing_private_key(args.key)
    envelope = _read_input(args.input, limit=MAX_ENVELOPE_BYTES, what="sealed envelope")
    try:
        plaintext = unseal(envelope, recipient=key, binding=binding)
    except DecryptionError:
        # Still opaque: every cause is listed, none is singled out.
        raise DecryptionError(
            f"cannot unseal {args.input}: wrong key or binding, or a corrupted envelope"
        ) from None
    _write_output(args, plaintext, mode=PRIVATE_FILE_MODE)
    _report(
        args,
        f"unsealed {len(plaintext)} bytes into {_target(args)}",
        {"output": args.output, "bytes": len(plaintext)},
    )
    return 0
