"""Handlers that read nodes: evidence, status, list, logs."""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from rich.markup import escape

from veil.cli import _nodes
from veil.cli._options import collateral_source
from veil.cli._options import nonce as given_nonce
from veil.cli._output import emit_json, emit_json_line, err_console, out_console, warn
from veil.errors import OperationError
from veil.host.interface import NodeStatus

__all__ = ["evidence", "list_", "logs", "status"]


def evidence(args: argparse.Namespace) -> int:
    nonce = given_nonce(args)
    if nonce is None and args.fresh_nonce:
        nonce = secrets.token_bytes(32)
    manager = _nodes.node_manager()
    manager.status(args.name)  # an unknown node is refused before any collateral is fetched
    # PCCS / PCS answers are cached in the operator's home until a piece is due.
    source = collateral_source(args, cache_dir=_nodes.operator_home().collateral_cache)
    collected = manager.evidence(args.name, nonce=nonce, collateral_source=source)
    if source is not None and not collected.needs_collateral:
        warn(f"node {args.name} is simulated: its evidence needs no collateral, none was added")
    data = collected.data
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    out = Path(args.output)
    try:
        out.write_bytes(data)
    except OSError as e:
        raise OperationError(f"cannot write {out}: {e.strerror or e}") from e
    if args.json:
        emit_json(
            {
                "name": args.name,
                "evidence": str(out),
                "bytes": len(data),
                "tee": collected.tee.value,
                "collateral_added": collected.collateral_added,
            }
        )
    else:
        out_console.print(f"evidence of node {escape(args.name)} saved to {escape(str(out))}")
        if collected.collateral_added:
            out_console.print("  with the collateral to verify it offline")
    return 0


#: ``veil list`` columns; the reason a node gives for its state comes last, unpadded.
_LIST_HEADER: Final = ("NAME", "STATE", "URL", "BACKEND", "FINGERPRINT", "REASON")


def _row(info: NodeStatus) -> tuple[str, ...]:
    state = info.state
    return (
        info.name,
        info.display_state,
        info.url,
        info.backend,
        state.fingerprint if state and state.fingerprint else "-",
        state.reason if state and state.reason else "",
    )


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]
        ).rstrip()
        for row in rows
    ]


def _shown(value: object) -> str:
    # A field the node has not reported yet (no state, not running) reads "-", not "None".
    return "-" if value is None or value == "" else str(value)


def status(args: argparse.Namespace) -> int:
    if args.name is None:
        return list_(args)
    info = _nodes.node_manager().status(args.name)
    if args.json:
        emit_json(info.to_json())
        return 0
    for key, value in info.to_json().items():
        out_console.print(f"{key:12} {escape(_shown(value))}", soft_wrap=True)
    return 0


def list_(args: argparse.Namespace) -> int:
    infos = _nodes.node_manager().list()
    if args.json:
        emit_json({"nodes": [i.to_json() for i in infos]})
        return 0
    if not infos:
        err_console.print("no nodes (start one with `veil spawn` or `veil deploy`)")
        return 0
    for line in _table([_LIST_HEADER, *(_row(info) for info in infos)]):
        out_console.print(escape(line), soft_wrap=True)
    return 0


def logs(args: argparse.Namespace) -> int:
    for line in _nodes.node_manager().logs(args.name, follow=args.follow):
        if args.json:
            emit_json_line({"node": args.name, "line": line})
        else:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    return 0
