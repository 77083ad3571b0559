"""veil: deploy confidential Python web applications into Trusted Execution Environments."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["__version__"]

__version__ = "0.1.0"


def _lazy_exports(
    package: str, exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package facade whose names load on first use.

    ``exports`` maps each of the package's modules (relative, e.g. ``"hpke"``) to the names it
    provides; each must be in the package's ``__all__``. Importing the facade (for example for
    ``veil --version``) then loads none of its modules, and a light module never pays for a
    heavy sibling's dependencies. Misuse (a name listed twice or missing from ``__all__``, a
    name that shadows a module) raises ``ValueError`` at import, so it cannot ship.
    """
    module = sys.modules[package]
    public = set(getattr(module, "__all__", ()))
    source_of: dict[str, str] = {}
    for relative, names in exports.items():
        for name in names:
            if name in source_of or name not in public or name in exports:
                # A name equal to a module name would be replaced by the module as soon as
                # that module is imported (the import system sets it on the package).
                raise ValueError(f"{package}: bad lazy export {name!r}")
            source_of[name] = f"{package}.{relative}"

    def __getattr__(name: str) -> object:
        source = source_of.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        # Cached on the package: later lookups no longer reach this function.
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *source_of})

    return __getattr__, __dir__
