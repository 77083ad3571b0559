"""Talk to a node's bootstrap API (``/_veil/…``) from the operator's side, without verifying it."""

from __future__ import annotations

import logging
import ssl
from typing import Final

import httpx

from veil._json import load_json_object
from veil.errors import FormatError, ProvisioningError, ServiceError
from veil.ratls.extension import MAX_NONCE_BYTES

__all__ = [
    "MAX_BOOTSTRAP_RESPONSE_BYTES",
    "MAX_NONCE_BYTES",
    "BootstrapClient",
    "ProvisioningRefusedError",
    "insecure_bootstrap_tls_context",
]

_log = logging.getLogger(__name__)

#: Largest bootstrap response read, in bytes: evidence with a PCK chain is ~10 KiB; the
#: operator adds collateral afterwards, so 1 MiB leaves room without letting a node flood us.
MAX_BOOTSTRAP_RESPONSE_BYTES: Final = 1024 * 1024
_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
_NO_MESSAGE: Final = "(no readable error message)"


def insecure_bootstrap_tls_context() -> ssl.SSLContext:
    """A TLS context that accepts any certificate from the node.

    The peer is verified by attestation, by the owner (``veil verify``) or the user, not here:
    the operator only relays public evidence and an envelope already sealed to the verified
    enclave, so nothing it sends or receives on this channel needs the channel's protection.
    """
    # Not ssl.create_default_context(): it loads the system CA store (~30 ms), unused here.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


#: What the operator can do about each refusal, by the node's HTTP status.
_REFUSAL_HINTS: Final = {
    403: "they are not sealed for this node by the owner of its package (sealed for another "
    "instance or package, or forged): send the owner this node's evidence to seal for",
    409: "the node is not waiting for secrets (see `veil status`)",
    413: "the file is not a sealed envelope from `veil seal`",
    422: "restore the package file the node was started with, or spawn a new node from an "
    "intact copy; the sealed secrets themselves were not at fault",
}


class ProvisioningRefusedError(ProvisioningError):
    """The node refused the sealed secrets; ``status`` is its HTTP status (400 malformed,
    403 not from the owner, 409 not waiting, 413 too large, 422 package file corrupted or
    swapped)."""

    def __init__(self, status: int, message: str) -> None:
        hint = _REFUSAL_HINTS.get(status)
        super().__init__(
            f"the node refused the sealed secrets ({status}): {message}"
            + (f"; {hint}" if hint else "")
        )
        self.status = status


class BootstrapClient:
    """One node's bootstrap API at ``base_url`` (``https://host:port``)."""

    def __init__(self, base_url: str, *, timeout: httpx.Timeout = _TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout

    def _request(self, method: str, path: str, **kwargs: object) -> tuple[int, bytes]:
        url = f"{self.base_url}{path}"
        try:
            with (
                httpx.Client(verify=insecure_bootstrap_tls_context(), timeout=self._timeout) as c,
                c.stream(method, url, **kwargs) as response,  # type: ignore[arg-type]
            ):
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BOOTSTRAP_RESPONSE_BYTES:
                        raise FormatError(
                            f"{url} answered more than {MAX_BOOTSTRAP_RESPONSE_BYTES} bytes"
                        )
                return response.status_code, bytes(body)
        except httpx.HTTPError as e:
            raise ServiceError(f"cannot reach the node at {url}: {e}") from e

    def _json(self, status: int, body: bytes, what: str) -> dict[str, object]:
        if status != 200:
            raise ServiceError(f"the node answered {status} to {what}: {_error_of(body)}")
        return load_json_object(
            body, max_bytes=MAX_BOOTSTRAP_RESPONSE_BYTES, what=f"the node's {what} answer"
        )

    def status(self) -> dict[str, object]:
        status, body = self._request("GET", "/_veil/status")
        return self._json(status, body, "status")

    def evidence(self, *, nonce: bytes | None = None) -> bytes:
        """The node's evidence document, exactly as served (bytes, for saving unchanged)."""
        params: dict[str, str] = {}
        if nonce is not None:
            if not 0 < len(nonce) <= MAX_NONCE_BYTES:
                raise ValueError(f"a nonce is 1 to {MAX_NONCE_BYTES} bytes")
            params["nonce"] = nonce.hex()
        status, body = self._request("GET", "/_veil/evidence", params=params)
        self._json(status, body, "evidence")
        return body

    def provision(self, envelope: bytes) -> None:
        """POST a sealed envelope; ``ProvisioningError`` when the node refuses it."""
        status, body = self._request(
            "POST",
            "/_veil/provision",
            content=envelope,
            headers={"content-type": "application/octet-stream"},
        )
        if status in (200, 202):
            return
        if status in (400, 403, 409, 413, 422):
            raise ProvisioningRefusedError(status, _error_of(body))
        raise ServiceError(f"the node answered {status} to provisioning: {_error_of(body)}")


def _error_of(body: bytes) -> str:
    """The node's one-line error message, or a generic one when it sent none we can read.

    The body is untrusted and ends up on the operator's terminal: only the ``error`` string of
    a strict JSON object is shown, without control characters, and never raw bytes.
    """
    try:
        obj = load_json_object(body, max_bytes=MAX_BOOTSTRAP_RESPONSE_BYTES, what="error")
    except FormatError:
        return _NO_MESSAGE
    message = obj.get("error")
    if not isinstance(message, str):
        return _NO_MESSAGE
    text = "".join(c if c.isprintable() else " " for c in message)
    return " ".join(text.split())[:300] or _NO_MESSAGE
