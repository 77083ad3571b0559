"""Where a role keeps its state: an override variable, else the XDG base directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["state_directory"]


def state_directory(
    *,
    override_env: str,
    xdg_env: str,
    xdg_default: tuple[str, ...],
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path:
    """``$override_env``, else ``$xdg_env/veil``, else ``~/<xdg_default…>/veil``, resolved.

    The owner and the operator each have one (DESIGN.md: code keys never sit where operator
    tooling manages files), so the rule lives here once.
    """
    env = os.environ if environ is None else environ
    configured = env.get(override_env)
    if configured:
        return Path(configured).expanduser().resolve()
    xdg = env.get(xdg_env)
    base = Path(xdg).expanduser() if xdg else (home or Path.home()).joinpath(*xdg_default)
    return (base / "veil").resolve()
