"""The wheel store the vendoring commands use, from ``--no-wheel-cache`` and the environment."""

from __future__ import annotations

import argparse

from veil.package.vendor import WheelStore
from veil.package.wheel_cache import WheelCache, default_cache_root

__all__ = ["wheel_store"]


def wheel_store(args: argparse.Namespace) -> WheelStore | None:
    """The local wheel cache (``$XDG_CACHE_HOME/veil``), or none with ``--no-wheel-cache``."""
    if getattr(args, "no_wheel_cache", False):
        return None
    return WheelCache(default_cache_root())
