"""Load a decrypted app: install its vendored wheels offline and import its ASGI/WSGI callable."""

from __future__ import annotations

import importlib
import inspect
import site
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, cast

from starlette.types import ASGIApp

from veil.enclave._wheels import WheelInstallError, install_vendored_wheels
from veil.errors import ConfigError

__all__ = [
    "WSGI_THREADS",
    "AppImportError",
    "LoadedApp",
    "WheelInstallError",
    "detect_interface",
    "import_application",
    "install_vendored_wheels",
]

#: Worker threads a WSGI app gets (a2wsgi runs each request in one).
WSGI_THREADS: Final = 10

InterfaceName = Literal["asgi", "wsgi"]


class AppImportError(ConfigError):
    """The app's ``python_application`` cannot be imported or is not an ASGI/WSGI callable."""


@dataclass(frozen=True)
class LoadedApp:
    """The app as an ASGI callable, and which interface it was written for."""

    asgi: ASGIApp
    interface: InterfaceName
    application: str


def _positional_arity(fn: Callable[..., Any]) -> int | None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in signature.parameters.values() if p.kind in kinds)


def detect_interface(app: Any) -> InterfaceName:
    """ASGI (``async (scope, receive, send)``) or WSGI (``(environ, start_response)``)."""
    if not callable(app):
        raise AppImportError("python_application does not name a callable")
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(app):
        return "asgi"
    arity = _positional_arity(app)
    if arity == 2:
        return "wsgi"
    if arity == 3:
        return "asgi"
    raise AppImportError(
        "python_application is neither an ASGI (scope, receive, send) nor a WSGI "
        "(environ, start_response) callable; set interface in veil.toml"
    )


def _put_first_on_path(directory: Path) -> None:
    entry = str(directory)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)


def _resolve(application: str) -> object:
    module_name, _, attribute = application.partition(":")
    if not module_name or not attribute:
        raise AppImportError(f"python_application {application!r} is not 'module:attribute'")
    try:
        target: object = importlib.import_module(module_name)
    except Exception as e:
        # The app's own exception text may quote its source or configuration: name only the type.
        raise AppImportError(
            f"importing the app module {module_name!r} failed ({type(e).__name__})"
        ) from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppImportError(
                f"the app module {module_name!r} has no attribute {attribute!r}"
            ) from None
    return target


def import_application(
    *,
    app_dir: Path,
    site_dir: Path | None,
    application: str,
    interface: Literal["auto", "asgi", "wsgi"] = "auto",
) -> LoadedApp:
    """Import ``application`` (``module:attr``) from ``app_dir`` in this process.

    ``app_dir`` then ``site_dir`` go first on ``sys.path`` (``.pth`` files in ``site_dir``
    are honoured), so vendored wheels shadow the runtime's own copies of a package, except for
    modules the runtime already imported (they stay shared: one module object per name).
    """
    if site_dir is not None and site_dir.is_dir():
        site.addsitedir(str(site_dir))
        _put_first_on_path(site_dir)
    _put_first_on_path(app_dir)
    importlib.invalidate_caches()
    target = _resolve(application)
    kind: InterfaceName = detect_interface(target) if interface == "auto" else interface
    if not callable(target):
        raise AppImportError("python_application does not name a callable")
    if kind == "wsgi":
        from a2wsgi import WSGIMiddleware  # noqa: PLC0415 - only WSGI apps pay for it

        asgi = cast(ASGIApp, WSGIMiddleware(target, workers=WSGI_THREADS))
    else:
        asgi = cast(ASGIApp, target)
    return LoadedApp(asgi=asgi, interface=kind, application=application)
