"""Bounded HTTP GETs for collateral services: timeouts, limited retries with backoff, size caps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from veil.errors import ServiceError

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "MAX_ATTEMPTS",
    "MAX_RESPONSE_BYTES",
    "HttpResponse",
    "fetch",
]

_log = logging.getLogger(__name__)

#: Per-request timeout (connect, read, write, pool), in seconds.
DEFAULT_TIMEOUT_SECONDS: Final = 20.0
#: Attempts per URL: one try and two retries on connection errors or 5xx answers.
MAX_ATTEMPTS: Final = 3
#: First backoff delay, in seconds; doubled after each failed attempt.
BACKOFF_SECONDS: Final = 0.5
#: Largest response body read, in bytes. Real collateral pieces are 1–20 KiB; CRLs stay far
#: below this, so anything larger is refused before it fills memory.
MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True)
class HttpResponse:
    body: bytes
    headers: httpx.Headers


def _read_limited(response: httpx.Response, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise ServiceError(f"{url}: response of {declared} bytes exceeds {MAX_RESPONSE_BYTES}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ServiceError(f"{url}: response exceeds {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch(
    client: httpx.Client,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> HttpResponse:
    """GET ``url``; retry connection errors and 5xx with exponential backoff; any other non-200
    answer, or exhausting the retries, raises ``ServiceError``."""
    delay = BACKOFF_SECONDS
    last_problem = "no attempt made"
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with client.stream("GET", url, params=params, headers=headers) as response:
                if response.status_code == 200:
                    return HttpResponse(_read_limited(response, url), response.headers)
                last_problem = f"HTTP {response.status_code}"
                if response.status_code < 500:
                    raise ServiceError(f"{url} answered {last_problem}")
        except httpx.TransportError as e:
            last_problem = f"{type(e).__name__}: {e}"
        except httpx.HTTPError as e:  # anything else httpx raises is not worth retrying
            raise ServiceError(f"{url}: {e}") from e
        if attempt < MAX_ATTEMPTS:
            _log.info(
                "collateral fetch %s failed (%s); retrying in %.1fs", url, last_problem, delay
            )
            sleep(delay)
            delay *= 2
    raise ServiceError(f"{url} unreachable after {MAX_ATTEMPTS} attempts ({last_problem})")
