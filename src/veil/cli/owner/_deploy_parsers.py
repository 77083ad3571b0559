"""Parsers of ``veil deploy`` and ``veil verify`` (the owner's and the user's form)."""

from __future__ import annotations

import argparse

from veil.cli._lazy import lazy_handler
from veil.cli._options import (
    add_at_option,
    add_backend_option,
    add_image_option,
    add_json_option,
    add_nonce_option,
    add_simulation_options,
    add_vendoring_options,
    port_number,
)
from veil.host.state import DEFAULT_SPAWN_TIMEOUT

__all__ = ["register_deploy"]


def register_deploy(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "deploy",
        help="package, start, verify, seal and provision an app on this machine",
        description=(
            "Run the whole flow for the app in DIR: package it under a fresh code key, start a "
            "node, verify its evidence against the package, seal the secrets to it, provision, "
            "and check the app over the verified TLS channel."
        ),
    )
    p.add_argument("directory", metavar="DIR", help="app directory (with veil.toml)")
    p.add_argument("--name", help="node name (default: the app name)")
    p.add_argument("--port", type=port_number, help="TCP port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    add_backend_option(p)
    p.add_argument("--san", action="append", default=[], help="extra certificate name")
    p.add_argument("--secrets", metavar="SECRETS.json", help='app secrets {"NAME": "value"}')
    p.add_argument("--tls-key", metavar="KEY", help="owner-certificate scenario: the cert's key")
    p.add_argument("--untrusted-ssl-cert", help="operator TLS scenario: operator certificate")
    p.add_argument("--untrusted-ssl-key", help="operator TLS scenario: operator private key")
    add_vendoring_options(p)
    p.add_argument("--timeout", type=float, default=DEFAULT_SPAWN_TIMEOUT, help="seconds")
    add_image_option(p)
    p.add_argument(
        "--allow-simulated-insecure",
        action="store_true",
        help="required for the simulated backend: no TEE, test data only",
    )
    add_json_option(p, "print url, name, fingerprint, certificate")
    p.set_defaults(func=lazy_handler("owner._deploy", "deploy_command"))

    p = subparsers.add_parser(
        "verify",
        help="verify an enclave: evidence.json against a package (owner) or a live URL (user)",
        description=(
            "Owner: veil verify --evidence evidence.json --package FILE.veil [-o ratls.pem]. "
            "User: veil verify https://HOST:PORT [--fingerprint F | --package FILE | --source DIR]."
        ),
    )
    p.add_argument("target", nargs="?", metavar="https://HOST:PORT", help="a running app")
    p.add_argument("--evidence", metavar="FILE", help="owner: evidence.json from the operator")
    p.add_argument("--fingerprint", help="user: the app fingerprint you expect")
    p.add_argument("--source", metavar="DIR", help="user: recompute the fingerprint from source")
    p.add_argument(
        "--package",
        metavar="FILE",
        help="the .veil package (owner: required with --evidence; user: expected app)",
    )
    add_vendoring_options(p)
    p.add_argument(
        "--runtime-digest",
        metavar="HEX",
        help="trust this veil runtime (sha256:<hex> from `veil measure`) instead of the one "
        "installed here",
    )
    p.add_argument(
        "--runtime-version",
        metavar="V",
        help="version of the --runtime-digest runtime (default: the installed veil's)",
    )
    add_image_option(p)
    add_nonce_option(p)
    add_at_option(p)
    p.add_argument("-o", "--output", metavar="PEM", help="save the verified certificate")
    p.add_argument(
        "--allow-operator-tls",
        action="store_true",
        help="user: accept an app its veil.toml lets the operator's certificate serve (the "
        "operator can read and change the traffic; test data only)",
    )
    add_simulation_options(p)
    add_json_option(p, "print the verdict as JSON (a refusal too, on stdout)")
    p.set_defaults(func=lazy_handler("owner._verify", "verify_command"))
