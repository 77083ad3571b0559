"""The ``veil attest collateral fetch`` handler (parser in :mod:`veil.cli.attest`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from veil.attestation.api import parse_quote_info
from veil.attestation.errors import QuoteFormatError
from veil.attestation.quote import parse_quote
from veil.attestation.simulated import is_simulated_quote
from veil.attestation.sources.cache import earliest_next_update
from veil.attestation.sources.interface import query_for
from veil.attestation.sources.pcs import IntelPcsSource
from veil.cli._options import at, collateral_source
from veil.cli._output import emit_json, out_console
from veil.cli.attest._input import InputKind, read_input
from veil.errors import OperationError
from veil.ratls.extract import read_ratls_evidence

__all__ = ["fetch_command"]


def _quote_of(path: Path) -> bytes:
    source = read_input(path)
    if source.kind is InputKind.EVIDENCE and source.evidence is not None:
        return source.evidence.quote
    if source.kind is InputKind.CERTIFICATE:
        return read_ratls_evidence(source.data).quote
    return source.data


def fetch_command(args: argparse.Namespace) -> int:
    now = at(args)
    quote = _quote_of(args.quote)
    if is_simulated_quote(quote):
        raise QuoteFormatError("simulated quotes need no collateral")
    parsed = parse_quote(quote)
    query = query_for(parsed)
    # Fetching needs a service: a PCCS when given, else Intel PCS.
    source = collateral_source(args) or IntelPcsSource()
    collateral = source.get_collateral(parsed, now=now)
    try:
        args.output.write_bytes(collateral.to_bundle_json())
    except OSError as e:
        raise OperationError(f"cannot write {args.output}: {e.strerror or e}") from e
    due = earliest_next_update(collateral)
    if args.json:
        emit_json(
            {
                "output": str(args.output),
                "tee": query.tee.value,
                "fmspc": query.fmspc,
                "ca": query.ca.value,
                "fetched_from": collateral.fetched_from,
                "next_update": due.isoformat(),
                "digest": collateral.digest().hex(),
            }
        )
    else:
        info = parse_quote_info(quote)
        out_console.print(
            f"wrote {escape(str(args.output))}: {info.tee.value} FMSPC {query.fmspc} "
            f"({query.ca.value} CA), valid until {due.isoformat()}"
        )
    return 0
