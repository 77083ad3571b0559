"""The one lazy loader of the CLI: a command's handler module loads only when it runs."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LazyHandler", "lazy_handler"]


@dataclass(frozen=True)
class LazyHandler:
    """``veil.cli.<module>.<name>``, imported when called (``module`` is relative to
    ``veil.cli``, e.g. ``"owner._package"``), so that building the parser stays light."""

    module: str
    name: str

    @property
    def qualified_module(self) -> str:
        return f"veil.cli.{self.module}"

    def resolve(self) -> Callable[[argparse.Namespace], int]:
        function: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(self.qualified_module), self.name
        )
        return function

    def __call__(self, args: argparse.Namespace, /) -> int:
        # Looked up on every call, not cached: tests replace a handler module's functions.
        return self.resolve()(args)


def lazy_handler(module: str, name: str) -> LazyHandler:
    """The handler ``name`` of ``veil.cli.<module>``, loaded when the command runs."""
    return LazyHandler(module, name)
