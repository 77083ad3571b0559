"""Test app: keeps one note in veil's sealed data directory and reports a secret's digest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import veil.app

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def _reply(send: Callable[[Message], Awaitable[None]], status: int, body: object) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    if path == "/health":
        await _reply(send, 200, {"status": "ok"})
    elif path == "/note" and method == "PUT":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        veil.app.data_dir().write_bytes("note", body)
        await _reply(send, 200, {"stored": len(body)})
    elif path == "/note":
        data = veil.app.data_dir()
        note = data.read_bytes("note").decode() if data.exists("note") else None
        await _reply(send, 200, {"note": note})
    elif path == "/secret-digest":
        value = veil.app.secret("GREETING").encode()
        await _reply(send, 200, {"sha256": hashlib.sha256(value).hexdigest()})
    else:
        await _reply(send, 404, {"error": "not found"})
