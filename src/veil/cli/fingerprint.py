"""``veil fingerprint DIR``: recompute an app's fingerprint from its plaintext source.

Only the parser lives here; the handler (and its heavy imports) loads when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from veil.cli._lazy import lazy_handler
from veil.cli.package import add_vendoring_options

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fingerprint",
        help="recompute an app's fingerprint from its source (no key needed)",
        description=(
            "Recompute the fingerprint of the app in DIR exactly as 'veil package' does, from "
            "the plaintext files alone, to compare with a package header or attestation evidence."
        ),
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="app directory (veil.toml)")
    add_vendoring_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=lazy_handler("_fingerprint_impl", "fingerprint_command"))
