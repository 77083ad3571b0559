"""A caching collateral source: bundles on disk, served while every piece is still current."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from cryptography import x509

from veil._io import write_atomic
from veil.attestation.collateral import Collateral
from veil.attestation.qe_identity import QeIdentity
from veil.attestation.quote import Quote
from veil.attestation.sources.file import read_collateral_file
from veil.attestation.sources.interface import CollateralSource, query_for
from veil.attestation.tcb_info import TcbInfo
from veil.errors import FormatError, VeilError

__all__ = ["CachingCollateralSource", "earliest_next_update"]

_log = logging.getLogger(__name__)


def earliest_next_update(collateral: Collateral) -> datetime:
    """The first moment a piece of ``collateral`` is due for replacement (TCB info, QE identity
    and both CRLs' ``nextUpdate``). Raises ``FormatError`` if a piece does not parse."""
    try:
        root_crl = x509.load_der_x509_crl(collateral.root_ca_crl)
        pck_crl = x509.load_der_x509_crl(collateral.pck_crl)
    except ValueError as e:
        raise FormatError(f"collateral CRL does not parse: {e}") from e
    instants = [
        TcbInfo.from_json(collateral.tcb_info).next_update,
        QeIdentity.from_json(collateral.qe_identity).next_update,
    ]
    for crl in (root_crl, pck_crl):
        if crl.next_update_utc is None:
            raise FormatError("collateral CRL has no nextUpdate")
        instants.append(crl.next_update_utc)
    return min(instants)


class CachingCollateralSource:
    """Wraps ``inner``; keeps one bundle per (TEE, FMSPC, PCK CA) under ``directory``.

    A cached bundle is served while ``now`` is before every piece's ``nextUpdate``; after that
    (or if the file is unreadable) it is fetched again and replaced atomically.
    """

    def __init__(self, inner: CollateralSource, directory: Path) -> None:
        self.inner = inner
        self.directory = directory

    def _path(self, quote: Quote) -> Path:
        return self.directory / f"{query_for(quote).cache_key}.json"

    def _cached(self, path: Path, now: datetime) -> Collateral | None:
        if not path.is_file():
            return None
        try:
            collateral = read_collateral_file(path)
            if now < earliest_next_update(collateral):
                return collateral
            _log.info("cached collateral %s is due for update; refetching", path.name)
        except VeilError as e:
            _log.warning("ignoring unreadable cached collateral %s: %s", path, e)
        return None

    def get_collateral(self, quote: Quote, *, now: datetime) -> Collateral:
        path = self._path(quote)
        cached = self._cached(path, now)
        if cached is not None:
            return cached
        collateral = self.inner.get_collateral(quote, now=now)
        self._store(path, collateral)
        return collateral

    def _store(self, path: Path, collateral: Collateral) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(path, collateral.to_bundle_json(), mode=0o600, what="cached collateral")
        _log.debug("cached collateral %s from %s", path.name, collateral.fetched_from)
