"""``veil localtest``: serve an app locally (no TEE), wait for health, run its tests against it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import httpx

from veil.errors import ConfigError, OperationError
from veil.package.config import CONFIG_FILE_NAME, AppConfig

__all__ = [
    "APP_URL_ENV",
    "DEFAULT_STARTUP_TIMEOUT",
    "AppServerError",
    "LocalTestResult",
    "find_free_port",
    "run_localtest",
]

#: Environment variable that carries the served app's base URL to its tests.
APP_URL_ENV: Final = "VEIL_APP_URL"
#: Seconds to wait for the healthcheck to answer 2xx before giving up.
DEFAULT_STARTUP_TIMEOUT: Final = 30.0
_POLL_INTERVAL: Final = 0.1
_STOP_TIMEOUT: Final = 5.0
_LOG_TAIL_CHARS: Final = 2000
#: ``veil.dev._serve.CONFIG_ERROR_STATUS``, spelled out so that this module does not import the
#: server (uvicorn) into the CLI (a test keeps them equal).
_SERVE_CONFIG_ERROR_STATUS: Final = 78


class AppServerError(OperationError):
    """The app server exited or never answered its healthcheck. The message is one line
    (ending with the log's last line); ``log`` holds the end of the server's log."""

    def __init__(self, message: str, *, log: str) -> None:
        last = log.strip().splitlines()[-1:] if log.strip() else []
        super().__init__(f"{message}: {last[0].strip()}" if last else message)
        self.log = log


@dataclass(frozen=True)
class LocalTestResult:
    #: pytest's exit status (0: all tests passed).
    exit_status: int
    url: str
    #: pytest's combined output when captured, else None (it went to this process's stdout).
    output: str | None


def find_free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _wait_healthy(url: str, server: subprocess.Popen[bytes], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise OperationError(f"the app server exited with status {server.returncode}")
        try:
            if httpx.get(url, timeout=2, trust_env=False).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(_POLL_INTERVAL)
    raise OperationError(f"the app did not answer {url} with 2xx within {timeout:g} s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _log_tail(log: IO[bytes]) -> str:
    log.seek(0)
    text = log.read().decode("utf-8", errors="replace").strip()
    return text[-_LOG_TAIL_CHARS:]


def run_localtest(
    app_dir: Path,
    *,
    port: int | None = None,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    pytest_args: Sequence[str] = (),
    capture_output: bool = False,
    python: str = sys.executable,
) -> LocalTestResult:
    """Serve the app on 127.0.0.1, run ``python -m pytest`` in ``app_dir`` with
    ``VEIL_APP_URL`` set, stop the server; return pytest's exit status (and output if
    ``capture_output``).

    ``ConfigError`` if ``veil.toml`` names an app that cannot be found; ``AppServerError``
    (with the server's log) if the app never becomes healthy.
    """
    config = AppConfig.from_toml(app_dir / CONFIG_FILE_NAME)
    host = "127.0.0.1"
    port = port or find_free_port(host)
    base_url = f"http://{host}:{port}"
    command = [python, "-m", "veil.dev._serve", "--app", config.python_application]
    command += ["--interface", config.interface, "--dir", str(app_dir.resolve())]
    command += ["--host", host, "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        try:
            server = subprocess.Popen(
                command, cwd=app_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        except OSError as e:
            raise OperationError(f"cannot start the app server: {e}") from e
        try:
            try:
                _wait_healthy(base_url + config.healthcheck, server, timeout=startup_timeout)
            except OperationError as e:
                _stop(server)
                tail = _log_tail(log)
                if server.returncode == _SERVE_CONFIG_ERROR_STATUS and tail:
                    raise ConfigError(tail.splitlines()[-1]) from None
                raise AppServerError(str(e), log=tail) from None
            env = os.environ | {APP_URL_ENV: base_url}
            tests = subprocess.run(
                [python, "-m", "pytest", *pytest_args],
                cwd=app_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=capture_output,
                check=False,
            )
        finally:
            _stop(server)
    output = None
    if capture_output:
        output = (tests.stdout + tests.stderr).decode("utf-8", errors="replace")
    return LocalTestResult(exit_status=tests.returncode, url=base_url, output=output)
