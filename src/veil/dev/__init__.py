"""veil.dev: owner tools for writing apps — project scaffolding and local testing without a TEE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.dev.localtest import AppServerError, LocalTestResult, run_localtest
    from veil.dev.scaffold import FRAMEWORKS, Framework, render_app, write_app

__all__ = [
    "FRAMEWORKS",
    "AppServerError",
    "Framework",
    "LocalTestResult",
    "render_app",
    "run_localtest",
    "write_app",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "localtest": ("AppServerError", "LocalTestResult", "run_localtest"),
        "scaffold": ("FRAMEWORKS", "Framework", "render_app", "write_app"),
    },
)
