"""Parsers of ``veil measure``, ``package``, ``decrypt`` and ``fingerprint``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from veil.cli._lazy import lazy_handler
from veil.cli._options import add_image_option, add_json_option, add_vendoring_options
from veil.enclave.backends.interface import BACKEND_NAMES

__all__ = ["TEE_NAMES", "register_build"]

#: ``--tee`` choices for the configfs-tsm backend.
TEE_NAMES: Final = ("sev-snp", "tdx")


def register_build(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_measure(subparsers)
    _register_package(subparsers)
    _register_fingerprint(subparsers)


def _register_measure(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "measure",
        help="print the measurement a verifier should expect for a package",
        description=(
            "Compute, from the package header alone (no code key), the measurement an enclave "
            "running this package on the given backend must report. On the simulated backend, "
            "also print this machine's simulated image reference values (its Python "
            "environment), which a verifier can pin with --image; PACKAGE may then be omitted."
        ),
    )
    parser.add_argument(
        "package",
        type=Path,
        nargs="?",
        metavar="PACKAGE",
        help="encrypted .veil package (optional with --backend simulated: image values only)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default="simulated",
        help="TEE backend (default: %(default)s)",
    )
    parser.add_argument(
        "--tee",
        choices=TEE_NAMES,
        default="tdx",
        help="configfs-tsm only: the guest's TEE (default: %(default)s)",
    )
    parser.add_argument(
        "--rtmr-initial",
        metavar="HEX",
        help="configfs-tsm on TDX only: RTMR3 before veil extends it (default: 48 zero bytes)",
    )
    add_image_option(
        parser,
        "configfs-tsm only: the guest image's reference values; prints the whole expected "
        "measurement (image registers and the app's RTMR3 or HOST_DATA)",
    )
    parser.add_argument(
        "--runtime-version",
        metavar="VERSION",
        help="expect this runtime release instead of the installed one (with --runtime-digest)",
    )
    parser.add_argument(
        "--runtime-digest",
        metavar="sha256:HEX",
        help="expect this runtime digest instead of the installed runtime's",
    )
    add_json_option(parser)
    parser.set_defaults(func=lazy_handler("owner._measure", "measure_command"))


def _register_package(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    add_json_option(package)
    package.set_defaults(func=lazy_handler("owner._package", "package_command"))

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
    add_json_option(decrypt)
    decrypt.set_defaults(func=lazy_handler("owner._package", "decrypt_command"))


def _register_fingerprint(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
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
    add_json_option(parser)
    parser.set_defaults(func=lazy_handler("owner._package", "fingerprint_command"))
