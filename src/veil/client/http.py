"""``AttestedClient``: an httpx client that verifies the enclave before sending anything to it."""

from __future__ import annotations

import hmac
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

import httpx

from veil.client._tls import parse_https_url, pinned_ssl_context
from veil.client.expect import ExpectedApp
from veil.client.verify import ServerVerification, verify_server
from veil.errors import BindingError, VerificationError
from veil.identity.reference import ImageReference

__all__ = ["AttestedClient", "UntrustedChannelError"]

_log = logging.getLogger(__name__)


class UntrustedChannelError(VerificationError):
    """The server's TLS is not end to end with the enclave (operator TLS scenario)."""


class AttestedClient:
    """Send HTTP requests only to an enclave that passed attestation, over a pinned channel.

    The first request (or :meth:`verify`) checks the server the way ``veil verify`` does; the
    connection then trusts exactly the verified certificate, nothing else, and every response
    is checked to come over a TLS session with that very certificate. If the server later
    presents a different certificate (a restart gives the enclave a new key), the client
    verifies the new one before using it, and fails if it does not pass.

    ``allow_untrusted_channel_insecure`` accepts the operator TLS scenario, where the operator
    terminates TLS and can read and change traffic: never for real data.

    ``image`` gives the guest image's reference values
    (:func:`veil.identity.reference.read_image_reference`); TDX and SEV-SNP enclaves are
    refused without them. It is the same as ``expected=ExpectedApp(..., image=image)``.
    """

    def __init__(
        self,
        url: str,
        *,
        expected: ExpectedApp | None = None,
        image: ImageReference | None = None,
        allow_simulated_insecure: bool = False,
        simulation_root_public_key: bytes | None = None,
        allow_untrusted_channel_insecure: bool = False,
        timeout: float = 30.0,
        verifier: Callable[[], ServerVerification] | None = None,
        **httpx_options: Any,
    ) -> None:
        self.base_url = url.rstrip("/")
        self._host, self._port = parse_https_url(self.base_url)
        self._allow_untrusted = allow_untrusted_channel_insecure
        if allow_untrusted_channel_insecure:
            _log.warning("INSECURE: a TLS channel that is not end to end will be accepted")
        if image is not None:
            if expected is not None and expected.image not in (None, image):
                raise ValueError("give the image once: in expected or as image=, not both")
            expected = (
                ExpectedApp(image=image) if expected is None else replace(expected, image=image)
            )
        self._verifier = verifier or (
            lambda: verify_server(
                self.base_url,
                expected=expected,
                allow_simulated_insecure=allow_simulated_insecure,
                simulation_root_public_key=simulation_root_public_key,
                # Accepting operator TLS here only lets the result through; the check below
                # still refuses it unless allow_untrusted_channel_insecure.
                allow_operator_tls=True,
            )
        )
        self._timeout = timeout
        self._httpx_options = httpx_options
        self._lock = threading.Lock()
        self._verification: ServerVerification | None = None
        self._client: httpx.Client | None = None

    @property
    def verification(self) -> ServerVerification | None:
        """What the last successful verification established (``None`` before the first)."""
        return self._verification

    def verify(self) -> ServerVerification:
        """Verify the server now and pin its certificate for the following requests."""
        with self._lock:
            return self._verify_locked()

    def _verify_locked(self) -> ServerVerification:
        verification = self._verifier()
        if not verification.end_to_end and not self._allow_untrusted:
            raise UntrustedChannelError(
                f"{self.base_url}: the TLS channel is not end to end with the enclave "
                f"({verification.scenario} scenario): the operator can read the traffic"
            )
        pinned = verification.certificate_der
        client = httpx.Client(
            base_url=self.base_url,
            verify=pinned_ssl_context(pinned, host=self._host),
            timeout=self._timeout,
            event_hooks={"response": [lambda response: _check_peer(response, pinned)]},
            **self._httpx_options,
        )
        if self._client is not None:
            self._client.close()
        self._client, self._verification = client, verification
        return verification

    def _current(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._verify_locked()
            if self._client is None:  # for the type checker: _verify_locked sets it
                raise RuntimeError("no client after verification")
            return self._client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        client = self._current()
        try:
            return client.request(method, url, **kwargs)
        except httpx.ConnectError as e:
            if not _is_certificate_failure(e):
                raise
        # The server presents a certificate other than the pinned one: verify it afresh (a
        # restarted enclave has a new key); only if it passes is the request sent again.
        _log.info("the server's certificate changed; verifying it again")
        with self._lock:
            self._verify_locked()
            fresh = self._client
        if fresh is None:
            raise RuntimeError("no client after verification")
        return fresh.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_certificate_failure(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error)


def _check_peer(response: httpx.Response, pinned: bytes) -> None:
    """Refuse a response that did not come over a TLS session with the pinned certificate."""
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    # httpcore hands out ssl.SSLObject (async) or the C-level _ssl._SSLSocket (sync); both
    # answer getpeercert(True) with the DER certificate of this very session.
    getpeercert = getattr(ssl_object, "getpeercert", None)
    if getpeercert is None:
        raise BindingError("cannot see the TLS session the response came over")
    peer = getpeercert(True)
    if peer is None or not hmac.compare_digest(peer, pinned):
        raise BindingError(
            "the response came over TLS with a certificate other than the pinned one"
        )
