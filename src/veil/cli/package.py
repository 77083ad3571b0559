"""``veil package`` and ``veil decrypt``: build an encrypted package, and open one.

Only the parsers live here; the handlers (and their heavy imports) load when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from veil.cli._lazy import lazy_handler

__all__ = ["add_vendoring_options", "register"]


def add_vendoring_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wheels-from",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also look for dependency wheels in DIR (pip --find-links; repeatable)",
    )
    parser.add_argument(
        "--no-index",
        action="store_true",
        help="do not contact the package index: take every wheel from --wheels-from",
    )
    parser.add_argument(
        "--no-wheel-cache",
        action="store_true",
        help=(
            "always run pip: do not reuse, or record, the wheels of fully pinned requirements "
            "in the local wheel cache"
        ),
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    package = subparsers.add_parser(
        "package",
        help="archive, fingerprint and encrypt an app directory into a .veil package",
        description=(
            "Build the deterministic archive of DIR (files kept by veil.toml's ignore rules, plus "
            "its dependencies vendored as hash-locked wheels), compute its fingerprint, and "
            "encrypt it under a code key into a .veil package."
        ),
    )
    package.add_argument("directory", type=Path, metavar="DIR", help="app directory (veil.toml)")
    package.add_argument(
        "-o", "--output", type=Path, required=True, metavar="FILE", help="the .veil file to write"
    )
    keys = package.add_mutually_exclusive_group()
    keys.add_argument(
        "--key-out", type=Path, metavar="KEYFILE", help="generate a fresh code key into KEYFILE"
    )
    keys.add_argument("--key", type=Path, metavar="KEYFILE", help="encrypt under this code key")
    keys.add_argument(
        "--plain",
        action="store_true",
        help="write the plaintext deterministic archive (a tar) instead of a .veil package",
    )
    add_vendoring_options(package)
    package.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    package.add_argument("--json", action="store_true", help="print JSON on stdout")
    package.set_defaults(func=lazy_handler("_package_impl", "package_command"))

    decrypt = subparsers.add_parser(
        "decrypt",
        help="decrypt and verify a .veil package into a new directory",
        description=(
            "Decrypt FILE with its code key, check every chunk and the fingerprint, and extract "
            "it into DIR, which must not exist (it appears only if everything succeeded)."
        ),
    )
    decrypt.add_argument("package", type=Path, metavar="FILE", help=".veil package")
    decrypt.add_argument(
        "--key", type=Path, required=True, metavar="KEYFILE", help="the package's code key"
    )
    decrypt.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DIR", help="directory to create"
    )
    decrypt.add_argument("--json", action="store_true", help="print JSON on stdout")
    decrypt.set_defaults(func=lazy_handler("_package_impl", "decrypt_command"))
