"""Complete a node's evidence for the owner with the collateral a hardware quote needs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from veil.attestation.evidence import EvidenceDocument
from veil.attestation.quote import parse_quote
from veil.attestation.result import Tee
from veil.attestation.sources.choice import choose_collateral_source
from veil.attestation.sources.interface import CollateralSource
from veil.errors import ConfigError

__all__ = [
    "CollectedEvidence",
    "complete_evidence",
    "remote_collateral_source",
    "with_collateral",
]


def remote_collateral_source(
    *,
    pccs_url: str | None = None,
    pcs: bool = False,
    pccs_ca_file: str | None = None,
    cache_dir: Path,
    client: httpx.Client | None = None,
) -> CollateralSource:
    """A PCCS (``pccs_url``) or Intel PCS v4 (``pcs``), exactly one, behind a cache in
    ``cache_dir``: :func:`~veil.attestation.sources.choice.choose_collateral_source` for a node
    whose evidence must leave with its collateral."""
    if (pccs_url is None) == (not pcs):
        raise ConfigError("give exactly one collateral service: a PCCS URL or Intel PCS")
    source = choose_collateral_source(
        pccs_url=pccs_url, pcs=pcs, pccs_ca_file=pccs_ca_file, cache_dir=cache_dir, client=client
    )
    if source is None:  # unreachable: one service was named just above
        raise ConfigError("give exactly one collateral service: a PCCS URL or Intel PCS")
    return source


@dataclass(frozen=True, kw_only=True)
class CollectedEvidence:
    """evidence.json as it will be handed over, and what was done to it."""

    data: bytes
    tee: Tee
    #: True when collateral was fetched and embedded here.
    collateral_added: bool

    @property
    def needs_collateral(self) -> bool:
        """Simulated evidence is signed by the simulation root and has no DCAP collateral."""
        return self.tee is not Tee.SIMULATED


def with_collateral(
    document: EvidenceDocument, source: CollateralSource, *, now: datetime
) -> EvidenceDocument:
    """``document`` with the DCAP collateral for its quote, so the owner can verify offline.

    The collateral is public (Intel-signed) and checked by the owner; adding it here changes
    nothing the enclave signed.
    """
    if document.tee is Tee.SIMULATED or document.collateral is not None:
        return document
    collateral = source.get_collateral(parse_quote(document.quote), now=now)
    return dataclasses.replace(document, collateral=collateral)


def complete_evidence(
    raw: bytes, collateral_source: CollateralSource | None, *, now: datetime
) -> CollectedEvidence:
    """The node's evidence ``raw``, with collateral from ``collateral_source`` for a hardware
    quote that carries none. Simulated evidence, and evidence without a source, are returned
    byte for byte."""
    document = EvidenceDocument.from_json(raw)
    if collateral_source is None or document.tee is Tee.SIMULATED:
        return CollectedEvidence(data=raw, tee=document.tee, collateral_added=False)
    completed = with_collateral(document, collateral_source, now=now)
    if completed is document:
        return CollectedEvidence(data=raw, tee=document.tee, collateral_added=False)
    return CollectedEvidence(data=completed.to_json(), tee=document.tee, collateral_added=True)
