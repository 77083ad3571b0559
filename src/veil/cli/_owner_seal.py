"""``veil seal SECRETS.json --evidence evidence.json``: seal the owner's secrets to a verified
enclave (the ``--evidence`` half of ``veil seal``; the parser lives in ``veil.cli.seal``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from veil.cli._lazy import lazy_handler
from veil.cli.owner import add_image_option, add_nonce_option, add_simulation_options

__all__ = ["add_evidence_options", "handle_seal_evidence"]


def add_evidence_options(parser: argparse.ArgumentParser) -> None:
    """Options used with ``--evidence`` (the recipient option itself is in the seal group)."""
    group = parser.add_argument_group("sealing to a verified enclave (with --evidence)")
    group.add_argument("--package", type=Path, metavar="FILE.veil", help="your package")
    group.add_argument("--key", type=Path, metavar="KEYFILE", help="the package's code key")
    group.add_argument("--tls-cert", type=Path, metavar="PEM", help="owner certificate (chain)")
    group.add_argument("--tls-key", type=Path, metavar="PEM", help="owner certificate's key")
    group.add_argument("--at", metavar="TIME", help="verify as of this RFC 3339 time")
    add_image_option(group)
    add_nonce_option(group)
    add_simulation_options(group)


#: Verify the evidence against the package, then seal SECRETS.json + code key to it.
handle_seal_evidence = lazy_handler("_owner_impl", "seal_evidence_command")
