"""``veil keygen``: create a code key file, or with ``--sealing`` an HPKE sealing key pair.

Only the parser lives here; the handler (and its crypto imports) loads when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from veil.cli._lazy import lazy_handler

__all__ = [
    "DEFAULT_CODE_KEY_PATH",
    "DEFAULT_SEALING_KEY_PATH",
    "DEFAULT_SEALING_SUITE_NAME",
    "PUBLIC_KEY_SUFFIX",
    "SEALING_SUITE_NAMES",
    "register",
]

DEFAULT_CODE_KEY_PATH: Final = Path("veil.key")
DEFAULT_SEALING_KEY_PATH: Final = Path("veil-sealing.key")
PUBLIC_KEY_SUFFIX: Final = ".pub"
#: The values of ``veil.crypto.hpke.SealingSuite`` and its default, spelled out so that
#: building the parser imports no cryptography (a test keeps them equal).
SEALING_SUITE_NAMES: Final = ("mlkem768-x25519", "x25519")
DEFAULT_SEALING_SUITE_NAME: Final = "mlkem768-x25519"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "keygen",
        help="create a code key (or a sealing key pair with --sealing)",
        description=(
            "Create a fresh 256-bit code key in a new file readable only by you (mode 0600). "
            "Only its public key id is printed, never the key. With --sealing, create an HPKE "
            "sealing key pair instead: the private key in FILE (0600) and the public key in "
            "FILE.pub."
        ),
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help=(
            f"key file to create (default: {DEFAULT_CODE_KEY_PATH}, or "
            f"{DEFAULT_SEALING_KEY_PATH} with --sealing); never overwritten"
        ),
    )
    parser.add_argument(
        "--sealing", action="store_true", help="create an HPKE sealing key pair instead"
    )
    parser.add_argument(
        "--suite",
        choices=SEALING_SUITE_NAMES,
        help=f"sealing suite, with --sealing only (default: {DEFAULT_SEALING_SUITE_NAME})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=lazy_handler("_keygen_impl", "keygen_command"))
