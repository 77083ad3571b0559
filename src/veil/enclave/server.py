"""The node's one HTTPS server: a dispatcher for ``/_veil/*`` and the app, with switchable TLS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from starlette.types import ASGIApp, Receive, Scope, Send

from veil.errors import ConfigError, OperationError

__all__ = [
    "MAX_CONCURRENT_CONNECTIONS",
    "Dispatcher",
    "NodeServer",
    "TlsSwitch",
    "bind_socket",
    "server_tls_context",
]

_log = logging.getLogger(__name__)

#: Connections served at once before new ones get 503 (bounds memory inside the enclave).
MAX_CONCURRENT_CONNECTIONS: Final = 1000
#: Idle keep-alive connections are closed after this many seconds.
KEEP_ALIVE_SECONDS: Final = 5
#: Time open requests get to finish when the node stops, in seconds.
GRACEFUL_SHUTDOWN_SECONDS: Final = 3
#: Largest PEM (certificate chain or key) loaded through a pipe, in bytes: a pipe buffers
#: 64 KiB on Linux and the writer must not block before the reader starts.
_MAX_PIPE_PEM_BYTES: Final = 60 * 1024
_BOOTSTRAP_PATH: Final = "/_veil"
_START_POLL_SECONDS: Final = 0.001


def _new_server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


@contextlib.contextmanager
def _pem_paths(
    chain_pem: bytes, key_pem: bytes, scratch_dir: Path | None
) -> Iterator[tuple[str, str]]:
    """Paths from which OpenSSL can read the two PEMs without them touching a disk.

    ``ssl`` only loads keys from paths, so the PEMs go through anonymous pipes
    (``/dev/fd/N``). Where that is unavailable they go to 0600 files in ``scratch_dir`` (the
    private runtime directory, memory-backed) that are removed at once.
    """
    if (
        Path("/dev/fd").is_dir()
        and len(chain_pem) <= _MAX_PIPE_PEM_BYTES
        and len(key_pem) <= _MAX_PIPE_PEM_BYTES
    ):
        fds: list[int] = []
        try:
            paths = []
            for data in (chain_pem, key_pem):
                read_end, write_end = os.pipe()
                fds.append(read_end)
                try:
                    os.write(write_end, data)
                finally:
                    os.close(write_end)
                paths.append(f"/dev/fd/{read_end}")
            yield paths[0], paths[1]
        finally:
            for fd in fds:
                os.close(fd)
        return
    if scratch_dir is None:
        raise ConfigError("cannot load TLS keys from memory on this platform")
    with tempfile.TemporaryDirectory(dir=scratch_dir) as tmp:
        chain_path, key_path = Path(tmp) / "chain.pem", Path(tmp) / "key.pem"
        for path, data in ((chain_path, chain_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        yield str(chain_path), str(key_path)


def server_tls_context(
    chain_pem: bytes, key_pem: bytes, *, scratch_dir: Path | None = None
) -> ssl.SSLContext:
    """A TLS 1.2+ server context for a PEM certificate chain and its unencrypted PEM key."""
    context = _new_server_context()
    try:
        with _pem_paths(chain_pem, key_pem, scratch_dir) as (chain_path, key_path):
            context.load_cert_chain(chain_path, key_path)
    except ssl.SSLError as e:
        raise ConfigError(f"the TLS certificate or key cannot be used ({e.reason})") from None
    return context


class TlsSwitch:
    """The listening TLS context, whose certificate can be replaced while serving.

    Every handshake runs the SNI callback (OpenSSL calls it with or without SNI), which
    moves the connection onto the current context: switching to the owner's or operator's
    certificate needs no restart and never drops the port.
    """

    def __init__(self, initial: ssl.SSLContext) -> None:
        self._current = initial
        self.listening = initial
        initial.sni_callback = self._select

    def _select(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        connection.context = self._current

    def use(self, context: ssl.SSLContext) -> None:
        """Serve new connections with ``context`` from now on."""
        self._current = context


class Dispatcher:
    """One ASGI entry point: ``/_veil/*`` to the bootstrap API, the rest to the app once loaded.

    Before the app is loaded every other path answers 503. The app's lifespan state is
    copied into each request scope, as an ASGI server would do.
    """

    def __init__(self, bootstrap: ASGIApp, *, state_name: Callable[[], str]) -> None:
        self._bootstrap = bootstrap
        self._state_name = state_name
        self._app: ASGIApp | None = None
        self._app_state: dict[str, Any] = {}

    def set_app(self, app: ASGIApp, *, state: dict[str, Any] | None = None) -> None:
        self._app_state = state if state is not None else {}
        self._app = app

    @property
    def has_app(self) -> bool:
        return self._app is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _trivial_lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        if path == _BOOTSTRAP_PATH or path.startswith(_BOOTSTRAP_PATH + "/"):
            await self._bootstrap(scope, receive, send)
            return
        app = self._app
        if app is None:
            await self._not_ready(scope, send)
            return
        if self._app_state:
            scope = {**scope, "state": dict(self._app_state)}
        await app(scope, receive, send)

    async def _not_ready(self, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})
            return
        body = json.dumps(
            {"error": "the app is not loaded yet", "state": self._state_name()}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", b"1"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _trivial_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; ``OperationError`` if the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says TCP
    # (asyncio.base_events._set_nodelay); with proto 0, Nagle + delayed ACKs add ~40 ms to
    # every response written in two parts (headers, then body).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise OperationError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


class NodeServer:
    """uvicorn, programmatically, on an already bound socket, without its signal handling
    (the node handles signals so that it can clean up before exiting)."""

    def __init__(self, *, app: ASGIApp, sock: socket.socket, tls: TlsSwitch) -> None:
        import uvicorn  # noqa: PLC0415 - unit tests of this module never pay for it

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        config = uvicorn.Config(
            app,
            lifespan="off",
            http="h11",
            ws="auto",
            access_log=False,  # request lines reveal what users do: never log them
            log_config=None,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            limit_concurrency=MAX_CONCURRENT_CONNECTIONS,
            ssl_context_factory=lambda _config, _default: tls.listening,
        )
        self._server = _Server(config)
        self._sock = sock

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    async def serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._sock])
        except SystemExit:
            raise OperationError("the HTTPS server could not start") from None

    async def wait_started(self, task: asyncio.Task[None]) -> None:
        """Return once the server accepts connections; raise if it stopped first."""
        while not self._server.started:
            if task.done():
                task.result()
                raise OperationError("the HTTPS server stopped before it started")
            # uvicorn offers no event for this; the node announces "waiting" only after it,
            # and a deploy waits on that, so poll finely (startup takes a few ms).
            await asyncio.sleep(_START_POLL_SECONDS)

    def stop(self) -> None:
        self._server.should_exit = True
