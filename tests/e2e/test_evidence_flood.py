"""A flood of unauthenticated evidence requests against a real node, while the owner deploys."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Final

import httpx
import pytest

from tests.e2e.conftest import BuiltApp, local_simulation_root, nodes
from veil.attestation.evidence import EvidenceDocument
from veil.crypto.keys import read_code_key
from veil.host.bootstrap import BootstrapClient, insecure_bootstrap_tls_context
from veil.host.interface import SpawnRequest
from veil.owner.seal import build_payload, seal_for_enclave
from veil.owner.verify import verify_owner_evidence

pytestmark = pytest.mark.slow

#: Flooding threads (each its own connection) and requests per thread: a few hundred in all.
FLOOD_THREADS: Final = 64
REQUESTS_PER_THREAD: Final = 5
#: Time the owner's fetch + verify + provision may take under the flood, in seconds. Unloaded
#: it takes well under a second; the bound only says "not blocked", it is not a speed target.
OWNER_DEADLINE_SECONDS: Final = 30.0


def _flood(url: str, start: threading.Event, outcomes: Counter[str], lock: threading.Lock) -> None:
    # The attacker verifies nothing; each thread keeps one connection and asks fresh nonces.
    with httpx.Client(verify=insecure_bootstrap_tls_context(), timeout=30.0) as client:
        start.wait()
        for _ in range(REQUESTS_PER_THREAD):
            try:
                response = client.get(
                    f"{url}/_veil/evidence", params={"nonce": secrets.token_hex(32)}
                )
                outcome = str(response.status_code)
            except httpx.HTTPError as e:
                outcome = type(e).__name__
            with lock:
                outcomes[outcome] += 1


def test_evidence_flood_does_not_block_the_owner(notes_app: BuiltApp) -> None:
    nodes().spawn(SpawnRequest(name="flooded", package=notes_app.package, backend="simulated"))
    try:
        nodes().wait("flooded", ("waiting",), timeout=60)
        url = nodes().status("flooded").url
        start, lock = threading.Event(), threading.Lock()
        outcomes: Counter[str] = Counter()
        threads = [
            threading.Thread(target=_flood, args=(url, start, outcomes, lock), daemon=True)
            for _ in range(FLOOD_THREADS)
        ]
        for thread in threads:
            thread.start()
        start.set()
        while sum(outcomes.values()) < FLOOD_THREADS:  # the flood is under way
            time.sleep(0.01)

        began = time.monotonic()
        nonce = secrets.token_bytes(32)
        enclave = verify_owner_evidence(
            EvidenceDocument.from_json(BootstrapClient(url).evidence(nonce=nonce)),
            notes_app.package,
            now=datetime.now(UTC),
            allow_simulated_insecure=True,
            simulation_root_public_key=local_simulation_root(),
            expected_nonce=nonce,
        )
        payload = build_payload(enclave, code_key=read_code_key(notes_app.code_key), app_secrets={})
        BootstrapClient(url).provision(seal_for_enclave(enclave, payload))
        owner_seconds = time.monotonic() - began
        nodes().wait("flooded", ("serving",), timeout=60)

        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert owner_seconds < OWNER_DEADLINE_SECONDS
        # Every flood request got an answer: evidence, or a 503 "busy"; nothing hung or broke.
        assert sum(outcomes.values()) == FLOOD_THREADS * REQUESTS_PER_THREAD
        assert set(outcomes) <= {"200", "503"}, outcomes
        assert outcomes["200"] > 0
    finally:
        nodes().stop("flooded", grace=3.0)
