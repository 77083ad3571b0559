"""The bootstrap API under ``/_veil/``: status, evidence (optional nonce) and provisioning."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final, Protocol

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from veil.enclave.errors import NotWaitingError, PackageCorruptedError, ProvisioningRejectedError
from veil.errors import FormatError
from veil.ratls.extension import MAX_NONCE_BYTES
from veil.sealing.envelope import MAX_ENVELOPE_BYTES

__all__ = [
    "BODY_READ_TIMEOUT_SECONDS",
    "BOOTSTRAP_PREFIX",
    "EVIDENCE_QUEUE_SECONDS",
    "EVIDENCE_TIMEOUT_SECONDS",
    "MAX_EVIDENCE_IN_FLIGHT",
    "MAX_EVIDENCE_QUEUED",
    "MAX_NONCE_BYTES",
    "MAX_PROVISION_BYTES",
    "BootstrapController",
    "build_bootstrap_app",
    "parse_nonce",
]

_log = logging.getLogger(__name__)

BOOTSTRAP_PREFIX: Final = "/_veil/"
#: Largest provisioning body, in bytes: exactly the largest sealed envelope that can exist.
MAX_PROVISION_BYTES: Final = MAX_ENVELOPE_BYTES
#: Time a client gets to send the whole provisioning body, in seconds: 1 MiB takes well under
#: a second on any real link, and a slow sender must not hold the single provisioning slot.
BODY_READ_TIMEOUT_SECONDS: Final = 15.0
#: Time the node gets to build an evidence document, in seconds (no quote: a signature).
EVIDENCE_TIMEOUT_SECONDS: Final = 30.0
#: Evidence documents being built at once (each on a worker thread). Building one costs a
#: signature, well under a millisecond, so a few keep up with any real verifier while a flood
#: cannot take the worker threads that provisioning needs.
MAX_EVIDENCE_IN_FLIGHT: Final = 4
#: Evidence requests waiting for a slot; any more are answered 503 at once.
MAX_EVIDENCE_QUEUED: Final = 256
#: Time a request waits for a slot, in seconds, before a 503 (a slot frees every millisecond).
EVIDENCE_QUEUE_SECONDS: Final = 5.0
_BUSY: Final = {"cache-control": "no-store", "retry-after": "1"}
_NO_STORE: Final = {"cache-control": "no-store"}
REJECTED_MESSAGE: Final = "sealed secrets rejected"


class BootstrapController(Protocol):
    """What the bootstrap API asks of the node (:class:`veil.enclave.node.Node`)."""

    def status(self) -> Mapping[str, object]:
        """The ``/_veil/status`` document."""
        ...

    async def evidence(self, *, nonce: bytes | None) -> bytes:
        """The evidence document as JSON bytes, answering ``nonce`` (signed) if given."""
        ...

    async def provision(self, envelope: bytes) -> Mapping[str, object]:
        """Authenticate and accept sealed secrets.

        Raises ``NotWaitingError`` (409), ``FormatError`` for a malformed envelope (400) and
        ``ProvisioningRejectedError`` for anything that does not prove the owner (403) and
        ``PackageCorruptedError`` when the owner's key does not open the package file (422).
        """
        ...


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)


def parse_nonce(text: str | None) -> bytes | None:
    """A nonce from its hex query form (1 to ``MAX_NONCE_BYTES`` bytes); ``FormatError``
    otherwise."""
    if text is None:
        return None
    if not text or len(text) > 2 * MAX_NONCE_BYTES or len(text) % 2:
        raise FormatError(f"nonce must be 1 to {MAX_NONCE_BYTES} bytes of hex")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise FormatError("nonce must be hexadecimal") from None


class _BodyTooLarge(Exception):
    pass


async def _read_limited_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise FormatError("invalid content-length")
        if int(declared) > limit:
            raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _BodyTooLarge
    return bytes(body)


class _EvidenceSlots:
    """At most ``MAX_EVIDENCE_IN_FLIGHT`` evidence requests served and ``MAX_EVIDENCE_QUEUED``
    waiting, each at most ``EVIDENCE_QUEUE_SECONDS``: the endpoint is unauthenticated."""

    def __init__(self) -> None:
        self._semaphore: asyncio.Semaphore | None = None
        self._queued = 0

    async def acquire(self) -> bool:
        """True once a slot is held (give it back with :meth:`release`); False when busy."""
        if self._semaphore is None:  # created on first use, in the serving event loop
            self._semaphore = asyncio.Semaphore(MAX_EVIDENCE_IN_FLIGHT)
        if self._semaphore.locked() and self._queued >= MAX_EVIDENCE_QUEUED:
            return False
        self._queued += 1
        try:
            async with asyncio.timeout(EVIDENCE_QUEUE_SECONDS):
                await self._semaphore.acquire()
        except TimeoutError:
            return False
        finally:
            self._queued -= 1
        return True

    def release(self) -> None:
        if self._semaphore is None:
            raise RuntimeError("release without acquire")
        self._semaphore.release()


def build_bootstrap_app(controller: BootstrapController) -> Starlette:
    """The ASGI app serving ``/_veil/*`` for ``controller``."""
    evidence_slots = _EvidenceSlots()

    async def status(request: Request) -> Response:
        return JSONResponse(dict(controller.status()), headers=_NO_STORE)

    async def evidence(request: Request) -> Response:
        try:
            nonce = parse_nonce(request.query_params.get("nonce"))
        except FormatError as e:
            return _error(400, str(e))
        if not await evidence_slots.acquire():
            return JSONResponse(
                {"error": "too many evidence requests, retry later"},
                status_code=503,
                headers=_BUSY,
            )
        try:
            document = await asyncio.wait_for(
                controller.evidence(nonce=nonce), timeout=EVIDENCE_TIMEOUT_SECONDS
            )
        except TimeoutError:
            return _error(503, "evidence generation timed out")
        except Exception as e:
            _log.error("evidence generation failed (%s)", type(e).__name__)
            return _error(503, "evidence generation failed")
        finally:
            evidence_slots.release()
        return Response(document, media_type="application/json", headers=_NO_STORE)

    async def provision(request: Request) -> Response:
        try:
            envelope = await asyncio.wait_for(
                _read_limited_body(request, MAX_PROVISION_BYTES),
                timeout=BODY_READ_TIMEOUT_SECONDS,
            )
        except _BodyTooLarge:
            return _error(413, f"sealed envelope is larger than {MAX_PROVISION_BYTES} bytes")
        except TimeoutError:
            return _error(408, "timed out reading the sealed envelope")
        except FormatError as e:
            return _error(400, str(e))
        except ClientDisconnect:
            return _error(400, "client disconnected")
        if not envelope:
            return _error(400, "empty body: expected a sealed envelope")
        try:
            accepted = await controller.provision(envelope)
        except NotWaitingError as e:
            return _error(409, str(e))
        except ProvisioningRejectedError:
            return _error(403, REJECTED_MESSAGE)
        except PackageCorruptedError as e:
            return _error(422, str(e))
        except FormatError as e:
            return _error(400, str(e))
        except Exception as e:
            # Never let a traceback (which may quote data) reach the log or the client.
            _log.error("provisioning failed internally (%s)", type(e).__name__)
            return _error(500, "internal error")
        return JSONResponse(dict(accepted), status_code=202, headers=_NO_STORE)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(404, "no such bootstrap endpoint")

    async def wrong_method(request: Request, exc: Exception) -> Response:
        return _error(405, "method not allowed")

    routes = [
        Route(f"{BOOTSTRAP_PREFIX}status", status, methods=["GET"]),
        Route(f"{BOOTSTRAP_PREFIX}evidence", evidence, methods=["GET"]),
        Route(f"{BOOTSTRAP_PREFIX}provision", provision, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: wrong_method})
