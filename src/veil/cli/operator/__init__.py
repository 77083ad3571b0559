"""Operator commands: spawn, evidence, provision, status, list, logs, stop, restart."""

from __future__ import annotations

import argparse
from typing import Final

from veil.cli._lazy import lazy_handler
from veil.cli._options import (
    add_backend_option,
    add_json_option,
    add_nonce_option,
    port_number,
)
from veil.host.state import DEFAULT_SPAWN_TIMEOUT, DEFAULT_STOP_GRACE

__all__ = ["PROVISION_TIMEOUT", "register"]

#: How long `provision` waits for the app to load and serve, in seconds.
PROVISION_TIMEOUT: Final = 120.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("spawn", help="start an enclave node for an encrypted package")
    p.add_argument("package", help="the encrypted package (.veil)")
    p.add_argument("--name", required=True, help="node name (unique on this host)")
    p.add_argument("--port", type=port_number, help="TCP port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    add_backend_option(p)
    p.add_argument("--san", action="append", default=[], help="extra certificate name")
    p.add_argument(
        "--untrusted-ssl-cert",
        help='operator TLS certificate (only for packages with tls.scenario = "operator")',
    )
    p.add_argument("--untrusted-ssl-key", help="operator TLS private key (operator scenario)")
    p.add_argument("--timeout", type=float, default=DEFAULT_SPAWN_TIMEOUT, help="seconds")
    add_json_option(p, "print the node record as JSON")
    p.set_defaults(func=lazy_handler("operator._lifecycle", "spawn"))

    p = subparsers.add_parser("evidence", help="save a node's attestation evidence")
    p.add_argument("name", help="the node")
    p.add_argument("-o", "--output", required=True, help="evidence.json to write ('-': stdout)")
    group = p.add_mutually_exclusive_group()
    add_nonce_option(group, "hex nonce from the verifier, signed by the attested key")
    group.add_argument("--fresh-nonce", action="store_true", help="bind a random nonce")
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--collateral",
        metavar="FILE",
        help="DCAP collateral to embed for a hardware quote (so the owner can verify offline)",
    )
    source.add_argument(
        "--pccs-url",
        metavar="URL",
        help="fetch the hardware quote's collateral from this PCCS (cached in "
        "$VEIL_HOME/collateral-cache)",
    )
    source.add_argument(
        "--pcs",
        action="store_true",
        help="fetch the hardware quote's collateral from Intel PCS v4 (cached likewise)",
    )
    p.add_argument("--pccs-ca-file", metavar="FILE", help="CA certificate of the PCCS's TLS")
    add_json_option(p, "print what was saved as JSON")
    p.set_defaults(func=lazy_handler("operator._inspect", "evidence"))

    p = subparsers.add_parser("provision", help="relay the owner's sealed secrets to a node")
    p.add_argument("name", help="the node")
    p.add_argument("sealed", help="sealed secrets file from `veil seal`")
    p.add_argument("--timeout", type=float, default=PROVISION_TIMEOUT, help="seconds")
    add_json_option(p, "print the node record as JSON")
    p.set_defaults(func=lazy_handler("operator._lifecycle", "provision"))

    p = subparsers.add_parser("status", help="show one node (or all)")
    p.add_argument("name", nargs="?", help="the node (default: list all)")
    add_json_option(p, "print the node record(s) as JSON")
    p.set_defaults(func=lazy_handler("operator._inspect", "status"))

    p = subparsers.add_parser("list", help="list nodes")
    add_json_option(p, "print the node records as JSON")
    p.set_defaults(func=lazy_handler("operator._inspect", "list_"))

    p = subparsers.add_parser("logs", help="print a node's log")
    p.add_argument("name", help="the node")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    add_json_option(p, 'JSON lines: {"node": NAME, "line": TEXT} per line')
    p.set_defaults(func=lazy_handler("operator._inspect", "logs"))

    p = subparsers.add_parser("stop", help="stop a node (SIGTERM, then SIGKILL)")
    p.add_argument("name", help="the node")
    p.add_argument("--grace", type=float, default=DEFAULT_STOP_GRACE, help="seconds before KILL")
    p.add_argument(
        "--remove",
        action="store_true",
        help="also delete its directory, sealed data and `veil deploy` files (code key included)",
    )
    add_json_option(p, "print what was done as JSON")
    p.set_defaults(func=lazy_handler("operator._lifecycle", "stop"))

    p = subparsers.add_parser("restart", help="restart a node from its directory")
    p.add_argument("name", help="the node")
    p.add_argument("--grace", type=float, default=DEFAULT_STOP_GRACE, help="seconds before KILL")
    p.add_argument("--timeout", type=float, default=DEFAULT_SPAWN_TIMEOUT, help="seconds")
    add_json_option(p, "print the node record as JSON")
    p.set_defaults(func=lazy_handler("operator._lifecycle", "restart"))
