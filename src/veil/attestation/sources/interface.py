"""The one interface every collateral source implements, and the query a quote implies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography import x509

from veil.attestation.collateral import Collateral
from veil.attestation.errors import QuoteFormatError
from veil.attestation.pck import PckCaType, PckExtension, pck_ca_type_of
from veil.attestation.quote import Quote
from veil.attestation.result import Tee
from veil.errors import FormatError

__all__ = ["CollateralQuery", "CollateralSource", "query_for"]


class CollateralSource(Protocol):
    """Something that can produce the collateral needed to verify ``quote`` at ``now``."""

    def get_collateral(self, quote: Quote, *, now: datetime) -> Collateral: ...


@dataclass(frozen=True)
class CollateralQuery:
    """What collateral a quote needs: its TEE, platform family (FMSPC) and PCK CA."""

    tee: Tee
    #: FMSPC as 12 upper-case hex digits (Intel's spelling in URLs and TCB info).
    fmspc: str
    ca: PckCaType

    @property
    def cache_key(self) -> str:
        return f"{self.tee.value}-{self.fmspc.lower()}-{self.ca.value}"


def query_for(quote: Quote) -> CollateralQuery:
    """Read FMSPC and CA type from the quote's PCK leaf certificate (not verified here: the
    verifier checks the chain; a lie only fetches collateral that will then fail to match)."""
    if quote.tee not in (Tee.SGX, Tee.TDX):
        raise QuoteFormatError(f"no DCAP collateral exists for {quote.tee.value} quotes")
    try:
        leaf = x509.load_pem_x509_certificate(quote.certification.pck_cert_chain_pem)
        fmspc = PckExtension.from_certificate(leaf).fmspc
        ca = pck_ca_type_of(leaf)
    except (ValueError, x509.InvalidVersion, FormatError) as e:
        raise QuoteFormatError(f"the quote's PCK certificate is unreadable: {e}") from e
    return CollateralQuery(tee=quote.tee, fmspc=fmspc.hex().upper(), ca=ca)
