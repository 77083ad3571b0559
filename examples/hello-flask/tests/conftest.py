"""The test client: the running app at $VEIL_APP_URL (set by veil localtest), else in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    url = os.environ.get("VEIL_APP_URL")
    if url:
        with httpx.Client(base_url=url, timeout=10) as remote:
            yield remote
        return
    from app import app

    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://app.test") as local:
        yield local
