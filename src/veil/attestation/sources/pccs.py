"""Collateral from a PCCS (Intel's caching service, or a compatible one) at a configurable URL."""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Callable
from typing import Final

import httpx

from veil.attestation.sources._pcs_api import PcsApiSource, make_client

__all__ = ["PccsSource", "pccs_root_url"]

_log = logging.getLogger(__name__)

_API_SUFFIX: Final = re.compile(r"/(?:sgx|tdx)/certification/v[34]/?$")


def pccs_root_url(url: str) -> str:
    """Accept ``https://host:8081`` or ``https://host:8081/sgx/certification/v4/`` (the form
    PCCS documentation and dcap-qvl use) and return the root both TEEs' paths hang from."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"PCCS URL must be http(s): {url!r}")
    return _API_SUFFIX.sub("", url.rstrip("/") + "/").rstrip("/")


class PccsSource(PcsApiSource):
    """A PCCS mirrors PCS v4 and also serves the root CA CRL at ``/sgx/certification/v4/rootcacrl``.

    PCCS instances often run with self-signed TLS certificates: pass ``ca_file`` to trust one,
    or ``allow_untrusted_tls_insecure=True`` to skip TLS verification (collateral stays signed by
    Intel and is verified, but the channel is then open to tampering and denial).
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client | None = None,
        ca_file: str | None = None,
        allow_untrusted_tls_insecure: bool = False,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        root = pccs_root_url(url)
        if client is None:
            verify: bool | ssl.SSLContext = (
                ssl.create_default_context(cafile=ca_file) if ca_file is not None else True
            )
            if allow_untrusted_tls_insecure:
                _log.warning("INSECURE: PCCS TLS certificate not verified (%s)", root)
                verify = False
            client = make_client(verify=verify)
        super().__init__(
            root,
            root_ca_crl_url=f"{root}/sgx/certification/v4/rootcacrl",
            client=client,
            sleep=sleep,
        )
