"""Collateral from Intel's Provisioning Certification Service (PCS) v4."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import httpx

from veil.attestation.sources._pcs_api import PcsApiSource

__all__ = ["INTEL_PCS_URL", "INTEL_ROOT_CA_CRL_URL", "IntelPcsSource"]

INTEL_PCS_URL: Final = "https://api.trustedservices.intel.com"
#: The CRL distribution point written in Intel's SGX Root CA and PCK CA certificates. It is a
#: fixed URL here, never read from a (not yet verified) quote's chain, so a crafted quote cannot
#: make veil fetch an arbitrary URL.
INTEL_ROOT_CA_CRL_URL: Final = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"


class IntelPcsSource(PcsApiSource):
    """Intel PCS v4 (no API key is needed for TCB info, QE identity and CRLs)."""

    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        api_key: str | None = None,
        root_url: str = INTEL_PCS_URL,
        root_ca_crl_url: str = INTEL_ROOT_CA_CRL_URL,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(
            root_url,
            root_ca_crl_url=root_ca_crl_url,
            client=client,
            api_key=api_key,
            sleep=sleep,
        )
