"""Attestation tools: ``veil attest verify`` and ``veil attest collateral fetch``."""

from __future__ import annotations

import argparse
from pathlib import Path

from veil.attestation.result import TcbStatus
from veil.cli._lazy import lazy_handler
from veil.cli._options import add_at_option, add_json_option

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("attest", help="verify attestation evidence, fetch collateral")
    commands = parser.add_subparsers(dest="attest_command", metavar="SUBCOMMAND")
    commands.required = True

    verify = commands.add_parser(
        "verify",
        help="verify a quote, RA-TLS certificate or evidence.json",
        description=(
            "Verify FILE (a raw quote, a quote in hex, an RA-TLS certificate in PEM/DER, or an "
            "evidence.json) against Intel's pinned root and collateral, then apply the policy. "
            "Exit status 0 only when it verifies under the policy."
        ),
    )
    verify.add_argument(
        "file", type=Path, metavar="FILE", help="the quote, certificate or evidence.json to verify"
    )
    _add_collateral_options(verify)
    add_at_option(verify, "verify as of this instant (default: now)", metavar="RFC3339")
    verify.add_argument("--mrenclave", metavar="HEX", help="expected SGX MRENCLAVE")
    verify.add_argument("--mrsigner", metavar="HEX", help="expected SGX MRSIGNER")
    verify.add_argument("--isv-prod-id", type=int, metavar="N", help="expected SGX ISVPRODID")
    verify.add_argument("--min-isv-svn", type=int, metavar="N", help="minimum SGX ISVSVN")
    verify.add_argument("--mrtd", metavar="HEX", help="expected TDX MRTD")
    verify.add_argument(
        "--rtmr", action="append", default=[], metavar="N=HEX", help="expected TDX RTMR N (0-3)"
    )
    verify.add_argument("--measurement", metavar="HEX", help="expected simulated measurement")
    verify.add_argument(
        "--allow-tcb",
        action="append",
        default=[],
        metavar="STATUS",
        choices=[s.value for s in TcbStatus if s is not TcbStatus.REVOKED],
        help="also accept this TCB status (Intel spelling; repeatable); default UpToDate only",
    )
    verify.add_argument(
        "--simulation-root-key",
        metavar="HEX",
        help="simulation root public key (64 hex digits) for simulated quotes and certificates",
    )
    verify.add_argument(
        "--allow-debug-insecure", action="store_true", help="INSECURE: accept debug enclaves"
    )
    verify.add_argument(
        "--allow-simulated-insecure",
        action="store_true",
        help="INSECURE: accept simulated evidence (no TEE at all)",
    )
    verify.add_argument(
        "--allow-sept-ve-insecure",
        action="store_true",
        help="INSECURE: accept TDX TDs without SEPT_VE_DISABLE",
    )
    add_json_option(verify, "print one JSON object on stdout")
    verify.set_defaults(func=lazy_handler("attest._verify", "verify_command"))

    collateral = commands.add_parser("collateral", help="collateral bundles")
    collateral_commands = collateral.add_subparsers(dest="collateral_command", metavar="ACTION")
    collateral_commands.required = True
    fetch = collateral_commands.add_parser(
        "fetch",
        help="fetch the collateral a quote needs and store it as a veil bundle",
        description="Fetch from a PCCS (--pccs-url) or Intel PCS (default) and write a bundle.",
    )
    fetch.add_argument("quote", type=Path, metavar="QUOTE", help="quote, hex quote or RA-TLS cert")
    fetch.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="collateral bundle to write",
    )
    fetch.add_argument("--pccs-url", metavar="URL", help="PCCS to fetch from (default Intel PCS)")
    fetch.add_argument("--pccs-ca-file", metavar="FILE", help="CA certificate of the PCCS's TLS")
    add_at_option(fetch, "record this instant as fetched_at", metavar="RFC3339")
    add_json_option(fetch, "print one JSON object on stdout")
    fetch.set_defaults(func=lazy_handler("attest._fetch", "fetch_command"))


def _add_collateral_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--collateral", type=Path, metavar="FILE", help="collateral bundle file")
    group.add_argument("--pccs-url", metavar="URL", help="fetch collateral from this PCCS")
    group.add_argument("--pcs", action="store_true", help="fetch collateral from Intel PCS")
    parser.add_argument("--pccs-ca-file", metavar="FILE", help="CA certificate of the PCCS's TLS")
