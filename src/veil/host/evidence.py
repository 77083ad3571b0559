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
from veil.attestation.sources.cache import CachingCollateralSource
from veil.attestation.sources.interface import CollateralSource
from veil.attestation.sources.pccs import PccsSource
from veil.attestation.sources.pcs import IntelPcsSource
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
    """A PCCS (``pccs_url``) or Intel PCS v4 (``pcs``) behind a cache in ``cache_dir``.

    Collateral is public and Intel-signed: the owner verifies it, so where it came from only
    decides whether the owner can verify offline, never what the verdict is.
    """
    if (pccs_url is None) == (not pcs):
        raise ConfigError("give exactly one collateral service: a PCCS URL or Intel PCS")
    if pccs_url is not None:
        try:
            inner: CollateralSource = PccsSource(pccs_url, client=client, ca_file=pccs_ca_file)
        except ValueError as e:
            raise ConfigError(f"PCCS URL: {e}") from e
    else:
        if pccs_ca_file is not None:
            raise ConfigError("a PCCS CA file is only meaningful with a PCCS URL")
        inner = IntelPcsSource(client=client)
    return CachingCollateralSource(inner, cache_dir)


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
