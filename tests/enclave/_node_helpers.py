"""Helpers for tests that run a real node process: apps, packages, node dirs, sealing."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from veil.crypto.hpke import SealingPublicKey, SealingSuite
from veil.crypto.keys import CodeKey
from veil.package.encrypted import write_package
from veil.package.source import AppSource
from veil.ratls.extract import read_ratls_evidence
from veil.sealing.binding import format_instance_binding, instance_binding
from veil.sealing.envelope import seal
from veil.sealing.secrets import SecretsPayload

#: Appears in every test app's source: must never show up in logs or on disk in plaintext.
SOURCE_MARKER = "VEIL-TEST-SOURCE-MARKER-5c1d"
#: An app secret value: must never show up in logs or on disk in plaintext.
SECRET_MARKER = "VEIL-TEST-SECRET-VALUE-9e7a"

APP_SOURCE = '''\
"""A raw ASGI test app."""
import json
import os
import time

import veil.app

MARKER = "{marker}"
time.sleep(float(os.environ.get("VEIL_TEST_IMPORT_DELAY", "0")))


async def _body(receive):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    status, payload = 200, {{"ok": True}}
    if path == "/secret-names":
        payload = sorted(veil.app.secrets())
    elif path == "/secret-length":
        payload = len(veil.app.secret("API_TOKEN"))
    elif path == "/data" and scope["method"] == "POST":
        veil.app.data_dir().write_text("note.txt", (await _body(receive)).decode())
    elif path == "/data":
        data = veil.app.data_dir()
        payload = data.read_text("note.txt") if data.exists("note.txt") else None
    elif path == "/marker-length":
        payload = len(MARKER)
    elif path == "/boom":
        raise RuntimeError("{marker}" if MARKER else "")
    body = json.dumps(payload).encode()
    await send({{"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]}})
    await send({{"type": "http.response.body", "body": body}})
'''


def write_app(
    directory: Path,
    *,
    name: str = "test-app",
    allow_restart: bool = False,
    extra: str = "",
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "veil.toml").write_text(
        f'name = "{name}"\npython_application = "main:app"\n'
        f"allow_restart_without_owner = {'true' if allow_restart else 'false'}\n"
        'healthcheck = "/health"\n'
    )
    (directory / "main.py").write_text(APP_SOURCE.format(marker=SOURCE_MARKER) + extra)
    return directory


@dataclass(frozen=True)
class Package:
    path: Path
    key: CodeKey
    fingerprint: str


def make_package(app_dir: Path, out: Path, *, key: CodeKey | None = None) -> Package:
    key = key or CodeKey.generate()
    info = write_package(AppSource.load(app_dir), out, key=key)
    return Package(path=out, key=key, fingerprint=info.fingerprint)


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; ``AssertionError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_node_dir(
    node_dir: Path,
    package: Path,
    *,
    simulation_dir: Path,
    port: int | None = None,
    instance_id: str | None = None,
    operator_tls: tuple[Path, Path] | None = None,
) -> dict[str, object]:
    node_dir.mkdir(parents=True, exist_ok=True)
    spec: dict[str, object] = {
        "format": "veil-node",
        "version": 1,
        "name": node_dir.name.lower()[:60] or "node",
        "instance_id": instance_id or secrets.token_hex(16),
        "package": str(package),
        "host": "127.0.0.1",
        "port": port or free_port(),
        "backend": "simulated",
        "backend_options": {
            "root_key": str(simulation_dir / "root.pem"),
            "platform_secret": str(simulation_dir / "platform.secret"),
        },
        "san": ["localhost", "127.0.0.1"],
        "tls_scenario_override": "operator" if operator_tls else None,
        "operator_tls": (
            {"certificate": str(operator_tls[0]), "private_key": str(operator_tls[1])}
            if operator_tls
            else None
        ),
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    (node_dir / "node.json").write_text(json.dumps(spec))
    return spec


class NodeProcess:
    """A node started as ``python -m veil.enclave`` with its output in ``node.log``."""

    def __init__(self, node_dir: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.node_dir = node_dir
        self.spec = json.loads((node_dir / "node.json").read_text())
        self.port: int = self.spec["port"]
        (node_dir / "state.json").unlink(missing_ok=True)
        environment = dict(os.environ) | {"PYTHONUNBUFFERED": "1"} | dict(env or {})
        with (node_dir / "node.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "veil.enclave", "--node-dir", str(node_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=node_dir,
                env=environment,
            )

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def state(self) -> dict[str, object] | None:
        try:
            document: dict[str, object] = json.loads((self.node_dir / "state.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        if document.get("pid") != self.process.pid:
            return None
        return document

    def wait_for(self, *targets: str, timeout: float = 60.0) -> dict[str, object]:
        """The state once it is one of ``targets``; the node is stopped if it never gets there
        (a caller whose wait failed cannot stop it, and a leaked node outlives the tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state is not None and state["state"] in targets:
                return state
            if self.process.poll() is not None:
                state = self.state()
                if state is not None and state["state"] in targets:
                    return state
                raise AssertionError(f"node exited ({self.process.returncode}): {self.log()}")
            time.sleep(0.02)
        last = self.state()
        self.stop()
        raise AssertionError(f"node never reached {targets} in {timeout:g} s: {last} {self.log()}")

    def log(self) -> str:
        return (self.node_dir / "node.log").read_text(errors="replace")[-3000:]

    def certificate_pem(self) -> bytes:
        return ssl.get_server_certificate(("127.0.0.1", self.port)).encode()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def binding_for(certificate_pem: bytes, instance_id: str) -> tuple[SealingPublicKey, bytes]:
    """What an owner derives from verified evidence: the sealing key and the binding."""
    evidence = read_ratls_evidence(certificate_pem)
    assert evidence.veil is not None
    recipient = SealingPublicKey.from_bytes(
        evidence.veil.sealing_public_key, suite=SealingSuite(evidence.veil.sealing_suite)
    )
    binding = instance_binding(
        instance_id=instance_id,
        tls_public_key_der=evidence.public_key_der,
        sealing_public_key=recipient.to_bytes(),
    )
    return recipient, binding


def sealed_secrets(
    certificate_pem: bytes,
    instance_id: str,
    *,
    key: CodeKey,
    fingerprint: str,
    app_secrets: Mapping[str, str] | None = None,
    tls: tuple[bytes, bytes] | None = None,
) -> bytes:
    recipient, binding = binding_for(certificate_pem, instance_id)
    payload = SecretsPayload(
        code_key=key,
        package_fingerprint=fingerprint,
        instance_binding=format_instance_binding(binding),
        app_secrets=dict(app_secrets or {"API_TOKEN": SECRET_MARKER}),
        tls_private_key_pem=tls[1] if tls else None,
        tls_certificate_chain_pem=tls[0] if tls else None,
    )
    return seal(payload.to_bytes(), recipient=recipient, binding=binding)


def ca_context(certificate_pem: bytes) -> ssl.SSLContext:
    """A client context trusting exactly ``certificate_pem`` (what ``veil verify`` saves)."""
    return ssl.create_default_context(cadata=certificate_pem.decode())


def leaf_spki(certificate_pem: bytes) -> bytes:
    return (
        x509.load_pem_x509_certificate(certificate_pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def files_containing(root: Path, needle: bytes) -> list[Path]:
    found: list[Path] = []
    if not root.exists():
        return found
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found
