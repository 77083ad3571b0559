"""A collateral source reading one bundle file (veil bundle or dcap-qvl JSON), for offline use."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from veil._io import read_bounded
from veil.attestation.collateral import MAX_COLLATERAL_BYTES, Collateral, load_collateral
from veil.attestation.errors import CollateralFormatError
from veil.attestation.quote import Quote
from veil.errors import ConfigError

__all__ = ["FileCollateralSource", "read_collateral_file"]


def read_collateral_file(path: Path) -> Collateral:
    """Read and parse a collateral file; ``ConfigError`` if unreadable, ``CollateralFormatError``
    if malformed or larger than ``MAX_COLLATERAL_BYTES``."""
    data = read_bounded(
        path,
        max_bytes=MAX_COLLATERAL_BYTES,
        what="collateral file",
        error=ConfigError,
        too_large=CollateralFormatError,
    )
    return load_collateral(data)


class FileCollateralSource:
    """Serves the same file for every quote; the verifier checks it fits (FMSPC, TEE, CA)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_collateral(self, quote: Quote, *, now: datetime) -> Collateral:
        return read_collateral_file(self.path)
