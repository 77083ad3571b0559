from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from veil.enclave import bootstrap
from veil.enclave.bootstrap import (
    MAX_NONCE_BYTES,
    MAX_PROVISION_BYTES,
    build_bootstrap_app,
    parse_nonce,
)
from veil.enclave.errors import NotWaitingError, PackageCorruptedError, ProvisioningRejectedError
from veil.enclave.server import Dispatcher
from veil.errors import FormatError, OperationError


class FakeController:
    def __init__(self) -> None:
        self.nonces: list[bytes | None] = []
        self.envelopes: list[bytes] = []
        self.provision_error: Exception | None = None
        self.evidence_error: Exception | None = None
        self.evidence_delay = 0.0

    def status(self) -> Mapping[str, object]:
        return {"state": "waiting", "reason": None}

    async def evidence(self, *, nonce: bytes | None) -> bytes:
        self.nonces.append(nonce)
        if self.evidence_delay:
            await asyncio.sleep(self.evidence_delay)
        if self.evidence_error is not None:
            raise self.evidence_error
        return b'{"format": "veil-evidence"}'

    async def provision(self, envelope: bytes) -> Mapping[str, object]:
        self.envelopes.append(envelope)
        if self.provision_error is not None:
            raise self.provision_error
        return {"state": "loading"}


@pytest.fixture
def controller() -> FakeController:
    return FakeController()


class Client:
    """Synchronous calls into the ASGI app in this process (no network)."""

    def __init__(self, controller: FakeController) -> None:
        self._transport = httpx.ASGITransport(app=build_bootstrap_app(controller))

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            async with httpx.AsyncClient(transport=self._transport, base_url="https://node") as c:
                return await c.request(method, path, **kwargs)

        return asyncio.run(call())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def client(controller: FakeController) -> Client:
    return Client(controller)


def test_status(client: Client) -> None:
    response = client.get("/_veil/status")
    assert response.status_code == 200
    assert response.json() == {"state": "waiting", "reason": None}
    assert response.headers["cache-control"] == "no-store"


def test_evidence_without_and_with_nonce(client: Client, controller: FakeController) -> None:
    assert client.get("/_veil/evidence").status_code == 200
    response = client.get("/_veil/evidence", params={"nonce": "00ff" * 32})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert controller.nonces == [None, bytes.fromhex("00ff" * 32)]


@pytest.mark.parametrize("nonce", ["", "abc", "zz", "00" * (MAX_NONCE_BYTES + 1), "0x00"])
def test_malformed_nonce_is_400(client: Client, controller: FakeController, nonce: str) -> None:
    response = client.get("/_veil/evidence", params={"nonce": nonce})
    assert response.status_code == 400
    assert "nonce" in response.json()["error"]
    assert controller.nonces == []


def test_parse_nonce_limits() -> None:
    assert parse_nonce(None) is None
    assert parse_nonce("00" * MAX_NONCE_BYTES) == bytes(MAX_NONCE_BYTES)
    with pytest.raises(FormatError):
        parse_nonce("00" * (MAX_NONCE_BYTES + 1))


def test_evidence_failure_is_503_without_detail(client: Client, controller: FakeController) -> None:
    controller.evidence_error = OperationError("device /dev/attestation/quote said SECRET")
    response = client.get("/_veil/evidence")
    assert response.status_code == 503
    assert "SECRET" not in response.text


def test_evidence_timeout_is_503(
    client: Client, controller: FakeController, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "EVIDENCE_TIMEOUT_SECONDS", 0.01)
    controller.evidence_delay = 1.0
    response = client.get("/_veil/evidence")
    assert response.status_code == 503
    assert "timed out" in response.json()["error"]


class GatedController(FakeController):
    """Evidence calls that hold their slot until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = 0

    async def evidence(self, *, nonce: bytes | None) -> bytes:
        self.entered += 1
        await self.gate.wait()
        return await super().evidence(nonce=nonce)


def test_evidence_flood_beyond_the_bound_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unauthenticated flood gets bounded work: MAX_EVIDENCE_IN_FLIGHT built at once,
    MAX_EVIDENCE_QUEUED waiting, the rest refused at once with a 503 and Retry-After."""
    monkeypatch.setattr(bootstrap, "MAX_EVIDENCE_QUEUED", 3)
    controller = GatedController()
    transport = httpx.ASGITransport(app=build_bootstrap_app(controller))
    flood = bootstrap.MAX_EVIDENCE_IN_FLIGHT + 3 + 5

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="https://node") as c:
            tasks = [
                asyncio.create_task(c.get("/_veil/evidence", params={"nonce": f"{i:02x}"}))
                for i in range(flood)
            ]
            while sum(t.done() for t in tasks) < 5:
                await asyncio.sleep(0.001)
            # The refused answers came while every slot was still held.
            assert controller.entered == bootstrap.MAX_EVIDENCE_IN_FLIGHT
            controller.gate.set()
            return list(await asyncio.gather(*tasks))

    responses = asyncio.run(asyncio.wait_for(run(), timeout=10))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (flood - 5) + [503] * 5
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    assert controller.entered == flood - 5


def test_evidence_waiting_too_long_for_a_slot_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "EVIDENCE_QUEUE_SECONDS", 0.05)
    controller = GatedController()
    transport = httpx.ASGITransport(app=build_bootstrap_app(controller))

    async def run() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="https://node") as c:
            holders = [
                asyncio.create_task(c.get("/_veil/evidence"))
                for _ in range(bootstrap.MAX_EVIDENCE_IN_FLIGHT)
            ]
            while controller.entered < bootstrap.MAX_EVIDENCE_IN_FLIGHT:
                await asyncio.sleep(0.001)
            late = await c.get("/_veil/evidence")
            controller.gate.set()
            return list(await asyncio.gather(*holders)), late

    held, late = asyncio.run(asyncio.wait_for(run(), timeout=10))
    assert late.status_code == 503
    assert "too many evidence requests" in late.json()["error"]
    assert [r.status_code for r in held] == [200] * bootstrap.MAX_EVIDENCE_IN_FLIGHT


def test_provision_accepted_is_202(client: Client, controller: FakeController) -> None:
    response = client.post("/_veil/provision", content=b"VEILSEAL...")
    assert response.status_code == 202
    assert response.json() == {"state": "loading"}
    assert controller.envelopes == [b"VEILSEAL..."]


def test_provision_rejected_is_403_with_one_opaque_message(
    client: Client, controller: FakeController
) -> None:
    controller.provision_error = ProvisioningRejectedError()
    response = client.post("/_veil/provision", content=b"x")
    assert response.status_code == 403
    assert response.json() == {"error": "sealed secrets rejected"}


def test_provision_with_a_corrupted_package_is_422_and_says_so(
    client: Client, controller: FakeController
) -> None:
    controller.provision_error = PackageCorruptedError()
    response = client.post("/_veil/provision", content=b"x")
    assert response.status_code == 422
    assert "corrupted or was swapped" in response.json()["error"]


def test_provision_malformed_is_400(client: Client, controller: FakeController) -> None:
    controller.provision_error = FormatError("not a veil sealed envelope (bad magic)")
    response = client.post("/_veil/provision", content=b"garbage")
    assert response.status_code == 400
    assert response.json() == {"error": "not a veil sealed envelope (bad magic)"}


def test_provision_when_not_waiting_is_409(client: Client, controller: FakeController) -> None:
    controller.provision_error = NotWaitingError("the node is serving, not waiting for secrets")
    response = client.post("/_veil/provision", content=b"x")
    assert response.status_code == 409


def test_provision_internal_error_is_500_without_detail(
    client: Client, controller: FakeController
) -> None:
    controller.provision_error = RuntimeError("secret-looking detail")
    response = client.post("/_veil/provision", content=b"x")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error"}


def test_empty_body_is_400(client: Client, controller: FakeController) -> None:
    assert client.post("/_veil/provision", content=b"").status_code == 400
    assert controller.envelopes == []


def test_oversized_body_is_413_from_content_length(
    client: Client, controller: FakeController
) -> None:
    response = client.post("/_veil/provision", content=b"\x00" * (MAX_PROVISION_BYTES + 1))
    assert response.status_code == 413
    assert controller.envelopes == []


def test_body_of_exactly_the_limit_is_accepted(client: Client, controller: FakeController) -> None:
    response = client.post("/_veil/provision", content=b"\x00" * MAX_PROVISION_BYTES)
    assert response.status_code == 202


def test_oversized_chunked_body_is_413(client: Client, controller: FakeController) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_PROVISION_BYTES // 65536 + 2):
            yield b"\x00" * 65536

    response = client.post("/_veil/provision", content=chunks())
    assert response.status_code == 413
    assert controller.envelopes == []


def test_invalid_content_length_is_400(client: Client) -> None:
    response = client.post("/_veil/provision", content=b"x", headers={"content-length": "-1"})
    assert response.status_code == 400


def test_wrong_method_and_unknown_endpoint(client: Client) -> None:
    assert client.get("/_veil/provision").status_code == 405
    assert client.post("/_veil/status").status_code == 405
    response = client.get("/_veil/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "no such bootstrap endpoint"}


async def _call(app: object, scope: Scope, receive: Receive) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[operator]
    return sent


def _http_scope(path: str, method: str = "GET") -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }


def test_slow_body_times_out_with_408(
    controller: FakeController, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "BODY_READ_TIMEOUT_SECONDS", 0.05)
    app = build_bootstrap_app(controller)

    async def receive() -> Message:
        await asyncio.sleep(0.01)
        return {"type": "http.request", "body": b"x", "more_body": True}

    sent = asyncio.run(_call(app, _http_scope("/_veil/provision", "POST"), receive))
    assert sent[0]["status"] == 408
    assert controller.envelopes == []


def test_dispatcher_routes_bootstrap_and_app(controller: FakeController) -> None:
    calls: list[str] = []

    async def fake_app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        assert scope["state"] == {"db": "x"}
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    dispatcher = Dispatcher(build_bootstrap_app(controller), state_name=lambda: "waiting")

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    before = asyncio.run(_call(dispatcher, _http_scope("/hello"), receive))
    assert before[0]["status"] == 503
    assert json.loads(before[1]["body"]) == {
        "error": "the app is not loaded yet",
        "state": "waiting",
    }
    dispatcher.set_app(fake_app, state={"db": "x"})
    assert asyncio.run(_call(dispatcher, _http_scope("/hello"), receive))[0]["status"] == 204
    status = asyncio.run(_call(dispatcher, _http_scope("/_veil/status"), receive))
    assert status[0]["status"] == 200
    # "/_veilx" is the app's path, not the bootstrap API's.
    assert asyncio.run(_call(dispatcher, _http_scope("/_veilx"), receive))[0]["status"] == 204
    assert calls == ["/hello", "/_veilx"]


def test_dispatcher_closes_websockets_before_the_app_is_loaded(
    controller: FakeController,
) -> None:
    dispatcher = Dispatcher(build_bootstrap_app(controller), state_name=lambda: "waiting")
    scope = {**_http_scope("/ws"), "type": "websocket"}

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    sent = asyncio.run(_call(dispatcher, scope, receive))
    assert sent == [{"type": "websocket.close", "code": 1013}]
