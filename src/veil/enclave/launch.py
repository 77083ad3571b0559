"""Start a provisioned app: secrets and sealed data, wheels, import, lifespan, health, TLS."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from starlette.types import ASGIApp, Message

from veil import app as app_api
from veil.enclave._lifespan import AppLifespan
from veil.enclave.instance import EnclaveInstance
from veil.enclave.loader import import_application, install_vendored_wheels
from veil.enclave.provisioning import Accepted, Authenticator
from veil.enclave.runtime_dir import RuntimeDir
from veil.enclave.server import server_tls_context
from veil.enclave.storage import APP_DATA_LABEL, SealedDirectory, derive_storage_key
from veil.errors import OperationError

__all__ = ["HEALTHCHECK_TIMEOUT_SECONDS", "RunningApp", "launch_app"]

_log = logging.getLogger(__name__)

#: Time the app's health check gets to answer, in seconds.
HEALTHCHECK_TIMEOUT_SECONDS: Final = 30.0
_DATA_PURPOSE: Final = "app-data"


class HealthcheckError(OperationError):
    """The app did not answer its health check, or answered with a server error."""


@dataclass
class RunningApp:
    """A started app: the ASGI callable to route to and the TLS context to serve it with."""

    asgi: ASGIApp
    interface: str
    tls_scenario: str
    tls_context: ssl.SSLContext | None
    lifespan: AppLifespan

    @property
    def lifespan_state(self) -> dict[str, Any]:
        return self.lifespan.state

    async def close(self) -> None:
        await self.lifespan.shutdown()
        app_api._uninstall()


def open_app_data(instance: EnclaveInstance, sealed_dir: Path) -> SealedDirectory:
    """The app's sealed data directory under this enclave identity and instance.

    The instance id is part of the key, so another node's data directory, copied here, does
    not open: only a restart of the same instance reads it back.
    """
    key = derive_storage_key(
        instance.backend.sealing_key(APP_DATA_LABEL),
        fingerprint=instance.header.fingerprint,
        purpose=f"{_DATA_PURPOSE}/instance/{instance.spec.instance_id}",
    )
    return SealedDirectory(sealed_dir / "data", key=key)


async def _probe(asgi: ASGIApp, path: str) -> int:
    """One in-process GET of ``path``; the response status."""
    status: list[int] = []
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"user-agent", b"veil-healthcheck")],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        "state": {},
    }
    sent = False
    finished = asyncio.Event()

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    async def call() -> None:
        await asgi(scope, receive, send)

    task = asyncio.create_task(call())
    waiter = asyncio.create_task(finished.wait())
    try:
        done, _ = await asyncio.wait(
            {task, waiter}, timeout=HEALTHCHECK_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done and task.exception() is not None:
            raise HealthcheckError(
                f"the app raised {type(task.exception()).__name__} on its health check"
            )
        if not done:
            raise HealthcheckError("the app did not answer its health check in time")
    finally:
        finished.set()
        for pending in (task, waiter):
            if not pending.done():
                pending.cancel()
    if not status:
        raise HealthcheckError("the app sent no response to its health check")
    return status[0]


def _serving_tls(
    accepted: Accepted, instance: EnclaveInstance, runtime: RuntimeDir
) -> tuple[str, ssl.SSLContext | None]:
    serving = instance.serving_tls
    scenario = serving.scenario
    if scenario == "operator":
        if serving.operator_chain_pem is None or serving.operator_key_pem is None:
            raise OperationError("operator scenario without the operator's certificate and key")
        _log.warning("operator TLS: the app's channel is not end to end (test data only)")
        # The bytes read at start, which the tls_pin claim names (not the files as they are now).
        return scenario, server_tls_context(
            serving.operator_chain_pem, serving.operator_key_pem, scratch_dir=runtime.path
        )
    payload = accepted.payload
    if scenario == "owner-certificate":
        if payload.tls_certificate_chain_pem is None or payload.tls_private_key_pem is None:
            raise OperationError("owner-certificate scenario without a provisioned TLS key")
        context = server_tls_context(
            payload.tls_certificate_chain_pem, payload.tls_private_key_pem, scratch_dir=runtime.path
        )
        key = serialization.load_pem_private_key(payload.tls_private_key_pem, password=None)
        instance.bind_serving_key(key)
        return scenario, context
    return "zero-trust", None


async def launch_app(
    accepted: Accepted,
    *,
    instance: EnclaveInstance,
    runtime: RuntimeDir,
    authenticator: Authenticator,
    sealed_dir: Path,
) -> RunningApp:
    """Everything between accepted secrets and a servable app. Raises ``VeilError`` subclasses
    whose messages never quote secrets or app source."""
    await asyncio.to_thread(authenticator.persist, accepted)
    security = accepted.package.header.security_config
    data = await asyncio.to_thread(open_app_data, instance, sealed_dir)
    app_secrets = dict(accepted.payload.app_secrets)
    secrets_file = runtime.secrets_file
    secrets_file.unlink(missing_ok=True)
    runtime.write_private(secrets_file, json.dumps(app_secrets).encode("utf-8"))
    os.environ[app_api.SECRETS_FILE_ENV] = str(secrets_file)
    app_api._install(app_secrets=app_secrets, data=data)

    app_dir = accepted.package.directory
    count = await asyncio.to_thread(install_vendored_wheels, app_dir, runtime.site_dir)
    _log.info("installed %d vendored wheel(s) offline", count)
    loaded = await asyncio.to_thread(
        import_application,
        app_dir=app_dir,
        site_dir=runtime.site_dir if count else None,
        application=security.python_application,
        interface=security.interface,
    )
    lifespan = AppLifespan(loaded.asgi)
    await lifespan.startup()
    status = await _probe(loaded.asgi, security.healthcheck)
    if status >= 500:
        await lifespan.shutdown()
        raise HealthcheckError(f"the app's health check {security.healthcheck} answered {status}")
    scenario, context = _serving_tls(accepted, instance, runtime)
    return RunningApp(
        asgi=loaded.asgi,
        interface=loaded.interface,
        tls_scenario=scenario,
        tls_context=context,
        lifespan=lifespan,
    )
