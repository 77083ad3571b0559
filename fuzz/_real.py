"""Real quotes and collateral from the shared vectors, the seeds most harnesses start from."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from veil.attestation.collateral import Collateral
from veil.attestation.quote import parse_quote
from veil.attestation.verifier import VerifiedCollateral, verify_collateral

__all__ = ["NOW", "RealBundle", "real_bundles", "real_quotes"]

#: Inside the validity window of both phala bundles (as in the verifier tests).
NOW = datetime.fromtimestamp(1751000000, UTC)
_BUNDLES = {
    "sgx": "phala-dcap-qvl/sgx_quote",
    "tdx": "phala-dcap-qvl/tdx_quote",
}
_MORE_QUOTES = (
    "google-go-tdx-guest/quote_v5_sample.dat",
    "phala-dcap-qvl/sdist-0.7.0/tdx_quote_td15ex",
    "automata-dcap-attestation/evm-forge-test-assets/quotes/tdx_quote_5.dat",
)


@dataclass(frozen=True)
class RealBundle:
    quote: bytes
    collateral: Collateral
    collateral_json: bytes
    verified: VerifiedCollateral


@functools.cache
def real_bundles(vectors: Path) -> dict[str, RealBundle]:
    """The phala SGX v3 and TDX v4 bundles, their collateral verified at :data:`NOW`."""
    bundles = {}
    for name, path in _BUNDLES.items():
        document = (vectors / f"{path}_collateral.json").read_bytes()
        collateral = Collateral.from_dcap_qvl_json(document)
        bundles[name] = RealBundle(
            quote=(vectors / path).read_bytes(),
            collateral=collateral,
            collateral_json=document,
            verified=verify_collateral(collateral, now=NOW),
        )
    return bundles


def real_quotes(vectors: Path) -> list[bytes]:
    """SGX v3, TDX v4 and v5 (TD 1.0, 1.5-ex) quotes, without their zero padding."""
    quotes = [bundle.quote for bundle in real_bundles(vectors).values()]
    quotes += [(vectors / path).read_bytes() for path in _MORE_QUOTES]
    return [parse_quote(quote).raw for quote in quotes]
