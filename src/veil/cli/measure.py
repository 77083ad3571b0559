"""``veil measure PACKAGE``: the measurement a verifier should expect for a package.

Only the parser lives here; the handler loads when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from veil.cli._lazy import lazy_handler
from veil.enclave.backends.interface import BACKEND_NAMES

__all__ = ["TEE_NAMES", "register"]

#: ``--tee`` choices for the configfs-tsm backend.
TEE_NAMES: Final = ("sev-snp", "tdx")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    parser.add_argument(
        "--image",
        metavar="FILE",
        help="configfs-tsm only: the guest image's reference values; prints the whole expected "
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
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=lazy_handler("_measure_impl", "measure_command"))
