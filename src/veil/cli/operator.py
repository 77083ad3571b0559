"""Operator commands: spawn, evidence, provision, status, list, logs, stop, restart.

Only the parser lives here; the handlers (and their heavy imports) load when a command runs.
"""

from __future__ import annotations

import argparse

from veil.cli._args import port_number
from veil.cli._lazy import lazy_handler
from veil.host.state import DEFAULT_SPAWN_TIMEOUT, DEFAULT_STOP_GRACE

__all__ = ["BACKEND_HELP", "PROVISION_TIMEOUT", "UNTRUSTED_SSL_WARNING", "register"]

#: Said every time the operator scenario is chosen: users must not mistake it for privacy.
UNTRUSTED_SSL_WARNING = (
    "--untrusted-ssl: the operator's own certificate terminates TLS, so the operator can read "
    "and change all traffic between users and the app. The evidence still proves which code "
    "runs, but the channel is NOT end to end, and users must accept it with "
    "--allow-operator-tls. Use it only for tests with test data."
)
#: ``--backend`` help; the names are checked before a node is created (veil.host.node_spec),
#: not here, so that building the parser does not load the backend registry.
BACKEND_HELP = "TEE backend: simulated (default), gramine-sgx or configfs-tsm"
#: How long `provision` waits for the app to load and serve, in seconds.
PROVISION_TIMEOUT = 120.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("spawn", help="start an enclave node for an encrypted package")
    p.add_argument("package", help="the encrypted package (.veil)")
    p.add_argument("--name", required=True, help="node name (unique on this host)")
    p.add_argument("--port", type=port_number, help="TCP port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--backend", default="simulated", help=BACKEND_HELP)
    p.add_argument("--san", action="append", default=[], help="extra certificate name")
    p.add_argument(
        "--untrusted-ssl-cert",
        help='operator TLS certificate (only for packages with tls.scenario = "operator")',
    )
    p.add_argument("--untrusted-ssl-key", help="operator TLS private key (operator scenario)")
    p.add_argument("--timeout", type=float, default=DEFAULT_SPAWN_TIMEOUT, help="seconds")
    p.add_argument("--json", action="store_true", help="print the node record as JSON")
    p.set_defaults(func=lazy_handler("_operator_impl", "spawn"))

    p = subparsers.add_parser("evidence", help="save a node's attestation evidence")
    p.add_argument("name", help="the node")
    p.add_argument("-o", "--output", required=True, help="evidence.json to write ('-': stdout)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--nonce", help="hex nonce from the verifier, signed by the attested key")
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
    p.add_argument("--json", action="store_true", help="print what was saved as JSON")
    p.set_defaults(func=lazy_handler("_operator_impl", "evidence"))

    p = subparsers.add_parser("provision", help="relay the owner's sealed secrets to a node")
    p.add_argument("name", help="the node")
    p.add_argument("sealed", help="sealed secrets file from `veil seal`")
    p.add_argument("--timeout", type=float, default=PROVISION_TIMEOUT, help="seconds")
    p.add_argument("--json", action="store_true", help="print the node record as JSON")
    p.set_defaults(func=lazy_handler("_operator_impl", "provision"))

    p = subparsers.add_parser("status", help="show one node (or all)")
    p.add_argument("name", nargs="?", help="the node (default: list all)")
    p.add_argument("--json", action="store_true", help="print the node record(s) as JSON")
    p.set_defaults(func=lazy_handler("_operator_impl", "status"))

    p = subparsers.add_parser("list", help="list nodes")
    p.add_argument("--json", action="store_true", help="print the node records as JSON")
    p.set_defaults(func=lazy_handler("_operator_impl", "list_"))

    p = subparsers.add_parser("logs", help="print a node's log")
    p.add_argument("name", help="the node")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument(
        "--json", action="store_true", help='JSON lines: {"node": NAME, "line": TEXT} per line'
    )
    p.set_defaults(func=lazy_handler("_operator_impl", "logs"))

    p = subparsers.add_parser("stop", help="stop a node (SIGTERM, then SIGKILL)")
    p.add_argument("name", help="the node")
    p.add_argument("--grace", type=float, default=DEFAULT_STOP_GRACE, help="seconds before KILL")
    p.add_argument(
        "--remove",
        action="store_true",
        help="also delete its directory, sealed data and `veil deploy` files (code key included)",
    )
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.set_defaults(func=lazy_handler("_operator_impl", "stop"))

    p = subparsers.add_parser("restart", help="restart a node from its directory")
    p.add_argument("name", help="the node")
    p.add_argument("--grace", type=float, default=DEFAULT_STOP_GRACE, help="seconds before KILL")
    p.add_argument("--timeout", type=float, default=DEFAULT_SPAWN_TIMEOUT, help="seconds")
    p.add_argument("--json", action="store_true", help="print the node record as JSON")
    p.set_defaults(func=lazy_handler("_operator_impl", "restart"))
