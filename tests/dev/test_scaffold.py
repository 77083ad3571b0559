from __future__ import annotations

from pathlib import Path

import pytest

from veil.dev.scaffold import FRAMEWORKS, render_app, write_app
from veil.errors import ConfigError, OperationError
from veil.package.config import AppConfig
from veil.package.source import AppSource

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_examples_are_in_sync_with_the_templates(framework: str) -> None:
    name = f"hello-{framework}"
    example = REPO / "examples" / name
    rendered = render_app(name, framework=framework)  # type: ignore[arg-type]
    on_disk = {
        p.relative_to(example).as_posix(): p.read_text("utf-8")
        for p in sorted(example.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }
    assert on_disk == rendered, f"regenerate examples/{name} with 'veil scaffold {name}'"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_scaffolded_app_is_valid_and_packages_without_its_tests(
    tmp_path: Path, framework: str
) -> None:
    target = write_app("myapp", framework=framework, parent=tmp_path)  # type: ignore[arg-type]
    config = AppConfig.from_toml(target / "veil.toml")
    assert config.name == "myapp"
    assert config.interface == ("asgi" if framework == "fastapi" else "wsgi")
    assert config.healthcheck == "/health"
    assert config.dependencies.requirements == "requirements.txt"
    (target / "requirements.txt").write_text("")  # nothing to vendor: keep this test offline
    (target / "veil.toml").write_text(
        (target / "veil.toml")
        .read_text()
        .replace('[dependencies]\nrequirements = "requirements.txt"\n', "")
    )
    paths = [m.path for m in AppSource.load(target).plan.members]
    assert paths == ["app.py", "requirements.txt", "veil.toml"]


def test_scaffold_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(OperationError, match="already exists"):
        write_app("taken", framework="flask", parent=tmp_path)
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("name", ["Bad", "a_b", "-x", "x" * 64, "../x"])
def test_scaffold_refuses_invalid_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="key 'name'"):
        write_app(name, framework="fastapi", parent=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_framework() -> None:
    with pytest.raises(ConfigError, match="unknown framework"):
        render_app("x", framework="django")  # type: ignore[arg-type]
