"""Parsers of ``veil keygen``, ``seal`` (to a key, or to verified evidence) and ``unseal``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from veil.cli._lazy import lazy_handler
from veil.cli._options import (
    add_at_option,
    add_image_option,
    add_json_option,
    add_nonce_option,
    add_simulation_options,
)

__all__ = [
    "DEFAULT_CODE_KEY_PATH",
    "DEFAULT_SEALING_KEY_PATH",
    "DEFAULT_SEALING_SUITE_NAME",
    "PUBLIC_KEY_SUFFIX",
    "SEALING_SUITE_NAMES",
    "STDIO",
    "register_keys",
]

DEFAULT_CODE_KEY_PATH: Final = Path("veil.key")
DEFAULT_SEALING_KEY_PATH: Final = Path("veil-sealing.key")
PUBLIC_KEY_SUFFIX: Final = ".pub"
#: The values of ``veil.crypto.hpke.SealingSuite`` and its default, spelled out so that
#: building the parser imports no cryptography (a test keeps them equal).
SEALING_SUITE_NAMES: Final = ("mlkem768-x25519", "x25519")
DEFAULT_SEALING_SUITE_NAME: Final = "mlkem768-x25519"
#: The ``INPUT`` / ``-o`` value meaning stdin / stdout.
STDIO: Final = "-"


def register_keys(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_keygen(subparsers)
    _register_seal(subparsers)


def _register_keygen(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    add_json_option(parser)
    parser.set_defaults(func=lazy_handler("owner._keygen", "keygen_command"))


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
    add_json_option(parser)


def _add_evidence_options(parser: argparse.ArgumentParser) -> None:
    """Options used with ``--evidence`` (the recipient option itself is in the seal group)."""
    group = parser.add_argument_group("sealing to a verified enclave (with --evidence)")
    group.add_argument("--package", type=Path, metavar="FILE.veil", help="your package")
    group.add_argument("--key", type=Path, metavar="KEYFILE", help="the package's code key")
    group.add_argument("--tls-cert", type=Path, metavar="PEM", help="owner certificate (chain)")
    group.add_argument("--tls-key", type=Path, metavar="PEM", help="owner certificate's key")
    add_at_option(group, "verify as of this RFC 3339 time")
    add_image_option(group)
    add_nonce_option(group)
    add_simulation_options(group)


def _register_seal(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    _add_evidence_options(seal_parser)
    _add_binding_options(seal_parser)
    _add_output_options(seal_parser)
    seal_parser.set_defaults(func=lazy_handler("owner._seal", "seal_command"))

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
    unseal_parser.set_defaults(func=lazy_handler("owner._seal", "unseal_command"))
