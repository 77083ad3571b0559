"""``veil seal`` / ``veil unseal``: HPKE-seal a file (secrets) to an enclave's public key.

Only the parsers live here; the handlers (and their crypto imports) load when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from veil.cli._lazy import lazy_handler
from veil.cli._owner_seal import add_evidence_options

__all__ = ["STDIO", "register"]

#: The ``INPUT`` / ``-o`` value meaning stdin / stdout.
STDIO: Final = "-"


def _add_binding_options(parser: argparse.ArgumentParser) -> None:
    binding = parser.add_mutually_exclusive_group()
    binding.add_argument(
        "--binding",
        metavar="TEXT",
        help="bind to this enclave instance text (UTF-8); must match when unsealing",
    )
    binding.add_argument(
        "--binding-hex", metavar="HEX", help="bind to these raw bytes, written in hex"
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="file to create (never overwritten); '-' for stdout when it is not a terminal",
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    seal_parser = subparsers.add_parser(
        "seal",
        help="seal a file (e.g. secrets.json) to an enclave's sealing public key",
        description=(
            "Encrypt INPUT with HPKE to the recipient's sealing public key, bound to the "
            "enclave instance, into a sealed envelope only that enclave can open."
        ),
    )
    seal_parser.add_argument("input", metavar="INPUT", help="file to seal ('-' for stdin)")
    # Recipient sources are alternatives: exactly one must be given. ``--evidence FILE``
    # (the verified enclave's sealing key and binding) belongs in this group too.
    recipient = seal_parser.add_mutually_exclusive_group(required=True)
    recipient.add_argument(
        "--to",
        type=Path,
        metavar="PUBKEY_FILE",
        help="sealing public key file (as written by 'veil keygen --sealing')",
    )
    recipient.add_argument(
        "--evidence",
        metavar="EVIDENCE_JSON",
        help="the enclave's evidence.json: verified against --package, then INPUT (SECRETS.json) "
        "and the code key --key are sealed to that enclave instance",
    )
    add_evidence_options(seal_parser)
    _add_binding_options(seal_parser)
    _add_output_options(seal_parser)
    seal_parser.set_defaults(func=lazy_handler("_seal_impl", "seal_command"))

    unseal_parser = subparsers.add_parser(
        "unseal",
        help="open a sealed envelope with a sealing private key",
        description=(
            "Decrypt a sealed envelope with the sealing private key and the same binding it was "
            "sealed with. The plaintext goes to a new file with mode 0600, never a terminal."
        ),
    )
    unseal_parser.add_argument("input", metavar="INPUT", help="sealed envelope ('-' for stdin)")
    unseal_parser.add_argument(
        "--key", type=Path, required=True, metavar="PRIVKEY_FILE", help="sealing private key file"
    )
    _add_binding_options(unseal_parser)
    _add_output_options(unseal_parser)
    unseal_parser.set_defaults(func=lazy_handler("_seal_impl", "unseal_command"))
