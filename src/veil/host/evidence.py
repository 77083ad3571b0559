"""Collect a node's evidence for the owner, adding the collateral a hardware quote needs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from veil.attestation.evidence import EvidenceDocument
from veil.attestation.quote import parse_quote
from veil.attestation.result import Tee
from veil.attestation.sources.interface import CollateralSource
from veil.host.bootstrap import BootstrapClient

__all__ = ["collect_evidence", "with_collateral"]


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


def collect_evidence(
    url: str,
    *,
    nonce: bytes | None = None,
    collateral_source: CollateralSource | None = None,
    now: datetime | None = None,
) -> bytes:
    """The node's evidence.json. The operator does not verify it (the owner does).

    Simulated evidence is returned byte for byte. Hardware evidence gets its collateral from
    ``collateral_source`` when one is given; without one the owner fetches collateral when
    verifying.
    """
    raw = BootstrapClient(url).evidence(nonce=nonce)
    if collateral_source is None:
        return raw
    document = EvidenceDocument.from_json(raw)
    if document.tee is Tee.SIMULATED:
        return raw
    completed = with_collateral(document, collateral_source, now=now or datetime.now(UTC))
    return completed.to_json()
