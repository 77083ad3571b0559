"""The Intel PCS v4 API, shared by Intel's own service and by PCCS caches that mirror it."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from datetime import datetime
from typing import Final

import httpx

from veil.attestation.collateral import (
    PCS_PCK_CRL_ISSUER_CHAIN_HEADER,
    PCS_QE_IDENTITY_ISSUER_CHAIN_HEADER,
    PCS_TCB_INFO_ISSUER_CHAIN_HEADERS,
    Collateral,
)
from veil.attestation.errors import CollateralFormatError
from veil.attestation.quote import Quote
from veil.attestation.sources._http import DEFAULT_TIMEOUT_SECONDS, HttpResponse, fetch
from veil.attestation.sources.interface import query_for

__all__ = ["PcsApiSource", "make_client"]

_log = logging.getLogger(__name__)

#: Other spellings of the QE identity chain header seen in PCCS deployments.
_QE_IDENTITY_CHAIN_HEADERS: Final = (
    PCS_QE_IDENTITY_ISSUER_CHAIN_HEADER,
    "Enclave-Identity-Issuer-Chain",
)


def make_client(*, verify: bool | ssl.SSLContext = True) -> httpx.Client:
    """An httpx client with veil's timeouts; never follows redirects to other hosts silently."""
    return httpx.Client(
        timeout=httpx.Timeout(DEFAULT_TIMEOUT_SECONDS),
        follow_redirects=False,
        verify=verify,
        headers={"User-Agent": "veil-collateral-fetcher"},
    )


def _header(response: HttpResponse, names: tuple[str, ...], what: str) -> str:
    for name in names:
        value = response.headers.get(name)
        if isinstance(value, str) and value:
            return value
    raise CollateralFormatError(f"{what}: the response lacks the {names[0]} header")


class PcsApiSource:
    """Fetches TCB info, QE identity, the PCK CRL and the root CA CRL for a quote.

    ``root_url`` is the API root (``https://api.trustedservices.intel.com``); paths follow
    Intel's PCS v4: ``/{sgx|tdx}/certification/v4/tcb?fmspc=…``, ``…/qe/identity`` and
    ``/sgx/certification/v4/pckcrl?ca=…&encoding=der``.
    """

    def __init__(
        self,
        root_url: str,
        *,
        root_ca_crl_url: str,
        client: httpx.Client | None = None,
        api_key: str | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not root_url.startswith(("https://", "http://")):
            raise ValueError("the collateral service URL must be http(s)")
        self.root_url = root_url.rstrip("/")
        self.root_ca_crl_url = root_ca_crl_url
        self._client = client if client is not None else make_client()
        self._headers = {"Ocp-Apim-Subscription-Key": api_key} if api_key else {}
        self._sleep = sleep

    def _get(self, url: str, params: dict[str, str] | None = None) -> HttpResponse:
        if self._sleep is None:
            return fetch(self._client, url, params=params, headers=self._headers)
        return fetch(self._client, url, params=params, headers=self._headers, sleep=self._sleep)

    def get_collateral(self, quote: Quote, *, now: datetime) -> Collateral:
        query = query_for(quote)
        tee_root = f"{self.root_url}/{query.tee.value}/certification/v4"
        sgx_root = f"{self.root_url}/sgx/certification/v4"
        _log.info("fetching collateral for %s FMSPC %s from %s", query.tee, query.fmspc, tee_root)
        tcb = self._get(f"{tee_root}/tcb", {"fmspc": query.fmspc})
        qe = self._get(f"{tee_root}/qe/identity")
        pck_crl = self._get(f"{sgx_root}/pckcrl", {"ca": query.ca.value, "encoding": "der"})
        root_crl = self._get(self.root_ca_crl_url)
        return Collateral.from_pcs_responses(
            tcb_info_response=tcb.body,
            tcb_info_issuer_chain=_header(tcb, PCS_TCB_INFO_ISSUER_CHAIN_HEADERS, "tcb_info"),
            qe_identity_response=qe.body,
            qe_identity_issuer_chain=_header(qe, _QE_IDENTITY_CHAIN_HEADERS, "qe_identity"),
            pck_crl=pck_crl.body,
            pck_crl_issuer_chain=_header(pck_crl, (PCS_PCK_CRL_ISSUER_CHAIN_HEADER,), "pck_crl"),
            root_ca_crl=root_crl.body,
            fetched_from=self.root_url,
            fetched_at=now,
        )
