"""Collateral sources: where DCAP collateral comes from (a file, Intel PCS, a PCCS, a cache).

The only network code of ``veil.attestation`` lives here; the verifier itself stays pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.attestation.sources.cache import CachingCollateralSource
    from veil.attestation.sources.choice import choose_collateral_source
    from veil.attestation.sources.file import FileCollateralSource, read_collateral_file
    from veil.attestation.sources.interface import CollateralQuery, CollateralSource, query_for
    from veil.attestation.sources.pccs import PccsSource
    from veil.attestation.sources.pcs import INTEL_PCS_URL, IntelPcsSource

__all__ = [
    "INTEL_PCS_URL",
    "CachingCollateralSource",
    "CollateralQuery",
    "CollateralSource",
    "FileCollateralSource",
    "IntelPcsSource",
    "PccsSource",
    "choose_collateral_source",
    "query_for",
    "read_collateral_file",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "choice": ("choose_collateral_source",),
        "cache": ("CachingCollateralSource",),
        "file": ("FileCollateralSource", "read_collateral_file"),
        "interface": ("CollateralQuery", "CollateralSource", "query_for"),
        "pccs": ("PccsSource",),
        "pcs": ("INTEL_PCS_URL", "IntelPcsSource"),
    },
)
