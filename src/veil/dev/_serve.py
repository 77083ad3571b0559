"""Serve an app with uvicorn outside any TEE (``python -m veil.dev._serve``), for localtest."""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from collections.abc import Sequence
from typing import Any, Final

import uvicorn
from a2wsgi import WSGIMiddleware

from veil.errors import ConfigError

__all__ = ["CONFIG_ERROR_STATUS", "detect_interface", "load_application", "main"]

#: Exit status when veil.toml names an app that cannot be found (sysexits EX_CONFIG): localtest
#: then reports the one line this prints as a configuration error, not as a crashed server.
CONFIG_ERROR_STATUS: Final = 78


def load_application(spec: str) -> Any:
    """Import ``module:attr.path`` and return the object."""
    module_name, _, attr_path = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(
            f"python_application {spec!r} in veil.toml: cannot import {module_name!r} ({e})"
        ) from e
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise ConfigError(
                f"python_application {spec!r} in veil.toml: module {module_name!r} has no "
                f"attribute {attr_path!r}"
            ) from None
    if not callable(obj):
        raise ConfigError(
            f"python_application {spec!r} in veil.toml is not callable (not an ASGI or WSGI app)"
        )
    return obj


def detect_interface(app: Any, configured: str) -> str:
    """``configured`` unless it is ``auto``: then ASGI if the app is called as a coroutine."""
    if configured != "auto":
        return configured
    call = app if inspect.isfunction(app) else getattr(app, "__call__", None)  # noqa: B004
    return "asgi" if inspect.iscoroutinefunction(call) else "wsgi"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m veil.dev._serve")
    parser.add_argument("--app", required=True)
    parser.add_argument("--interface", choices=("auto", "asgi", "wsgi"), default="auto")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    sys.path.insert(0, args.dir)
    try:
        app = load_application(args.app)
    except ConfigError as e:
        sys.stderr.write(f"{e}\n")
        return CONFIG_ERROR_STATUS
    if detect_interface(app, args.interface) == "wsgi":
        app = WSGIMiddleware(app)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="auto")
    return 0


if __name__ == "__main__":
    sys.exit(main())
