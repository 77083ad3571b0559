"""``veil scaffold``: a runnable example app rendered from the templates shipped with veil."""

from __future__ import annotations

import string
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Final, Literal, get_args

from veil.errors import ConfigError, OperationError
from veil.package.config import AppConfig

__all__ = ["FRAMEWORKS", "Framework", "render_app", "write_app"]

Framework = Literal["fastapi", "flask"]
FRAMEWORKS: Final[tuple[str, ...]] = get_args(Framework)
_TITLES: Final = {"fastapi": "FastAPI, ASGI", "flask": "Flask, WSGI"}
_SUFFIX: Final = ".tmpl"


def _templates(layer: str) -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    pending: list[tuple[Traversable, PurePosixPath]] = [
        (resources.files("veil.dev").joinpath("templates", layer), PurePosixPath())
    ]
    while pending:
        node, rel = pending.pop()
        for child in node.iterdir():
            if child.is_dir():
                pending.append((child, rel / child.name))
            elif child.name.endswith(_SUFFIX):
                found[str(rel / child.name.removesuffix(_SUFFIX))] = child
    return found


def render_app(name: str, *, framework: Framework) -> dict[str, str]:
    """The files of a new app, ``{relative path: text}``: common templates, then the
    framework's own (which win on a clash)."""
    if framework not in FRAMEWORKS:
        raise ConfigError(f"unknown framework {framework!r}; choose one of {', '.join(FRAMEWORKS)}")
    values = {"app_name": name, "framework": framework, "framework_title": _TITLES[framework]}
    files = {}
    for path, template in (_templates("common") | _templates(framework)).items():
        files[path] = string.Template(template.read_text("utf-8")).substitute(values)
    # The rendered veil.toml must be valid, which also validates ``name``.
    AppConfig.from_toml(files["veil.toml"].encode(), origin=f"app name {name!r}")
    return dict(sorted(files.items()))


def write_app(name: str, *, framework: Framework, parent: Path) -> Path:
    """Write a new app into ``parent/name``; refuse if that path exists."""
    files = render_app(name, framework=framework)
    target = parent / name
    try:
        target.mkdir(parents=False, exist_ok=False)
    except FileExistsError:
        raise OperationError(f"{target} already exists; refusing to overwrite it") from None
    except OSError as e:
        raise OperationError(f"cannot create {target}: {e.strerror or e}") from e
    try:
        for rel, text in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8", newline="\n") as f:
                f.write(text)
    except OSError as e:
        raise OperationError(f"cannot write into {target}: {e.strerror or e}") from e
    return target
