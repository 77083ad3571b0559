"""Drive an ASGI app's lifespan protocol (startup/shutdown) for an app loaded after start-up."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from starlette.types import ASGIApp, Message

from veil.errors import OperationError

__all__ = ["LIFESPAN_TIMEOUT_SECONDS", "AppLifespan", "LifespanError"]

_log = logging.getLogger(__name__)

#: Time an app's startup or shutdown handlers get, in seconds.
LIFESPAN_TIMEOUT_SECONDS: Final = 60.0


class LifespanError(OperationError):
    """The app reported a failed startup, or its startup did not finish in time."""


class AppLifespan:
    """Runs one app's lifespan in a task. Apps without lifespan support (they raise on a
    ``lifespan`` scope, as WSGI adapters and bare ASGI callables do) are simply started."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._receive_queue: asyncio.Queue[Message] = asyncio.Queue()
        self._startup: asyncio.Future[bool] | None = None
        self._shutdown: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._supported = True
        self.state: dict[str, Any] = {}

    async def _receive(self) -> Message:
        return await self._receive_queue.get()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if self._startup is not None and not self._startup.done():
            if kind == "lifespan.startup.complete":
                self._startup.set_result(True)
            elif kind == "lifespan.startup.failed":
                self._startup.set_exception(LifespanError("the app's startup handler failed"))
        elif (
            self._shutdown is not None
            and not self._shutdown.done()
            and kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed")
        ):
            self._shutdown.set_result(None)

    async def _run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self._app(scope, self._receive, self._send)
        except Exception as e:
            if self._startup is not None and not self._startup.done():
                # Raising before acknowledging startup means "no lifespan support".
                self._supported = False
                self._startup.set_result(False)
            else:
                _log.error("the app's lifespan handler raised %s", type(e).__name__)
        finally:
            if self._shutdown is not None and not self._shutdown.done():
                self._shutdown.set_result(None)
            if self._startup is not None and not self._startup.done():
                self._supported = False
                self._startup.set_result(False)

    async def startup(self, *, timeout: float = LIFESPAN_TIMEOUT_SECONDS) -> None:
        loop = asyncio.get_running_loop()
        self._startup = loop.create_future()
        self._task = asyncio.create_task(self._run(), name="veil-app-lifespan")
        await self._receive_queue.put({"type": "lifespan.startup"})
        try:
            await asyncio.wait_for(asyncio.shield(self._startup), timeout=timeout)
        except TimeoutError:
            raise LifespanError("the app's startup handler did not finish in time") from None

    async def shutdown(self, *, timeout: float = LIFESPAN_TIMEOUT_SECONDS) -> None:
        if self._task is None or self._task.done() or not self._supported:
            return
        self._shutdown = asyncio.get_running_loop().create_future()
        await self._receive_queue.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(asyncio.shield(self._shutdown), timeout=timeout)
        except TimeoutError:
            _log.error("the app's shutdown handler did not finish in time")
            self._task.cancel()
