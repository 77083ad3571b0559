"""The API an app running inside a veil enclave uses: its secrets and its sealed data directory."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from veil._io import read_bounded
from veil._json import load_json_object
from veil.errors import ConfigError

if TYPE_CHECKING:
    from veil.enclave.storage import SealedDirectory

__all__ = [
    "SECRETS_FILE_ENV",
    "NotInEnclaveError",
    "data_dir",
    "is_in_enclave",
    "secret",
    "secrets",
]

#: Environment variable naming the JSON file of app secrets in the enclave's private runtime
#: directory (for helper processes the app starts; in-process code should call ``secrets()``).
SECRETS_FILE_ENV: Final = "VEIL_SECRETS_FILE"
#: Largest secrets file read, in bytes (the provisioning payload itself is limited to 1 MiB).
_MAX_SECRETS_FILE_BYTES: Final = 1024 * 1024


class NotInEnclaveError(ConfigError):
    """The app asked for enclave resources but is not running inside a veil node."""


class _Runtime:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.secrets: Mapping[str, str] | None = None
        self.data: SealedDirectory | None = None


_runtime = _Runtime()


def _install(*, app_secrets: Mapping[str, str], data: SealedDirectory) -> None:
    """Called by the node (``veil.enclave.loader``) before the app is imported."""
    with _runtime.lock:
        _runtime.secrets = MappingProxyType(dict(app_secrets))
        _runtime.data = data


def _uninstall() -> None:
    with _runtime.lock:
        _runtime.secrets = None
        _runtime.data = None


def is_in_enclave() -> bool:
    """True when running inside a provisioned veil node (or a helper process it started)."""
    return _runtime.secrets is not None or bool(os.environ.get(SECRETS_FILE_ENV))


def secrets() -> Mapping[str, str]:
    """The app secrets the owner provisioned (``secrets.json`` → ``app_secrets``), read-only.

    Raises :class:`NotInEnclaveError` outside a veil node, so an app never silently runs with
    missing secrets.
    """
    with _runtime.lock:
        if _runtime.secrets is not None:
            return _runtime.secrets
    path = os.environ.get(SECRETS_FILE_ENV)
    if not path:
        raise NotInEnclaveError("veil.app.secrets() is only available inside a veil enclave")
    return MappingProxyType(_read_secrets_file(Path(path)))


def secret(name: str) -> str:
    """One app secret; ``KeyError`` naming it (never its value) when it was not provisioned."""
    values = secrets()
    if name not in values:
        raise KeyError(f"app secret {name!r} was not provisioned")
    return values[name]


def data_dir() -> SealedDirectory:
    """The app's sealed data directory: files written here are encrypted at rest under a key
    only this app in a genuine enclave can derive, and survive restarts of the node."""
    with _runtime.lock:
        if _runtime.data is None:
            raise NotInEnclaveError("veil.app.data_dir() is only available inside a veil enclave")
        return _runtime.data


def _read_secrets_file(path: Path) -> dict[str, str]:
    data = read_bounded(
        path,
        max_bytes=_MAX_SECRETS_FILE_BYTES,
        what="secrets file",
        error=NotInEnclaveError,
        too_large=NotInEnclaveError,
    )
    document = load_json_object(
        data, max_bytes=_MAX_SECRETS_FILE_BYTES, what="the secrets file", error=NotInEnclaveError
    )
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in document.items()):
        raise NotInEnclaveError("the secrets file must map names to strings")
    return document
