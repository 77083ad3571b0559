"""Handlers that start and stop nodes: spawn, provision, stop, restart."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.markup import escape

from veil._io import read_bounded
from veil.cli import _nodes
from veil.cli._options import UNTRUSTED_SSL_WARNING, operator_tls
from veil.cli._output import emit_json, err_console, out_console, warn
from veil.errors import ConfigError, OperationError
from veil.host.interface import NodeManager, SpawnRequest
from veil.host.state import NodeState
from veil.owner.home import OwnerHome
from veil.sealing.envelope import MAX_ENVELOPE_BYTES

__all__ = ["provision", "restart", "spawn", "stop", "wait_with_spinner"]


def wait_with_spinner(
    manager: NodeManager,
    name: str,
    targets: Sequence[str],
    *,
    timeout: float,
    quiet: bool,
    label: str,
) -> NodeState:
    """Wait for a node state, with a spinner on stderr when it is a terminal."""
    if quiet or not err_console.is_terminal:
        return manager.wait(name, targets, timeout=timeout)
    with err_console.status(label) as spinner:

        def tick(state: NodeState | None) -> None:
            now = state.state if state else "starting"
            spinner.update(f"{label} (node is {now})")

        return manager.wait(name, targets, timeout=timeout, on_tick=tick)


def spawn(args: argparse.Namespace) -> int:
    operator_files = operator_tls(args)
    if operator_files is not None:
        warn(UNTRUSTED_SSL_WARNING)
    manager = _nodes.node_manager()
    manager.spawn(
        SpawnRequest(
            name=args.name,
            package=Path(args.package),
            port=args.port,
            host=args.host,
            backend=args.backend,
            san=args.san,
            operator_tls=operator_files,
        )
    )
    state = wait_with_spinner(
        manager,
        args.name,
        ("waiting", "serving"),
        timeout=args.timeout,
        quiet=args.json,
        label=f"starting node {args.name}",
    )
    info = manager.status(args.name)
    if args.json:
        emit_json(info.to_json())
    else:
        out_console.print(
            f"node [bold]{escape(args.name)}[/] is {state.state} at {escape(info.url)}"
        )
        if state.state == "waiting":
            err_console.print(
                f"next: veil evidence {args.name} -o evidence.json  (send it to the owner)"
            )
    return 0


def provision(args: argparse.Namespace) -> int:
    manager = _nodes.node_manager()
    info = manager.status(args.name)
    if not info.running:
        raise OperationError(f"node {args.name!r} is not running")
    # Bounded like every input; too large is a wrong file given, as it always was (exit 5).
    envelope = read_bounded(
        Path(args.sealed),
        max_bytes=MAX_ENVELOPE_BYTES,
        what="sealed secrets",
        too_large=ConfigError,
    )
    manager.provision(args.name, envelope)
    state = wait_with_spinner(
        manager,
        args.name,
        ("serving",),
        timeout=args.timeout,
        quiet=args.json,
        label=f"node {args.name} is loading the app",
    )
    if args.json:
        emit_json(manager.status(args.name).to_json())
    else:
        out_console.print(f"node [bold]{escape(args.name)}[/] is {state.state} at {info.url}")
    return 0


def stop(args: argparse.Namespace) -> int:
    result = _nodes.node_manager().stop(args.name, grace=args.grace, remove=args.remove)
    if args.remove:
        # What `veil deploy` kept on this machine for the node holds its package's code key: a
        # removed node must not leave a secret behind.
        OwnerHome.from_env().remove_deployment(args.name)
    if args.json:
        emit_json(result.to_json())
    else:
        what = "stopped" if result.was_running else "was not running"
        removed = "; its directory was removed" if args.remove else ""
        out_console.print(f"node {escape(args.name)} {what}{removed}")
    return 0


def restart(args: argparse.Namespace) -> int:
    manager = _nodes.node_manager()
    manager.restart(args.name, grace=args.grace)
    state = wait_with_spinner(
        manager,
        args.name,
        ("waiting", "serving"),
        timeout=args.timeout,
        quiet=args.json,
        label=f"restarting node {args.name}",
    )
    if args.json:
        emit_json(manager.status(args.name).to_json())
    else:
        hint = ""
        if state.state == "waiting":
            hint = " (it needs the owner's secrets again: veil evidence → owner → veil provision)"
        out_console.print(f"node {escape(args.name)} is {state.state}{hint}")
    return 0
