"""Shared fixtures: where the real hardware vectors live, and a clean veil home per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Real recorded quotes and collateral are read from the shared folder beside the repository,
#: never copied into it. ``VEIL_VECTORS_DIR`` overrides the location.
VECTORS_ENV = "VEIL_VECTORS_DIR"


def vectors_root() -> Path:
    configured = os.environ.get(VECTORS_ENV)
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    root = vectors_root()
    if not (root / "README.md").is_file():
        pytest.fail(
            f"real test vectors not found at {root}; set {VECTORS_ENV} to the vectors folder"
        )
    return root


@pytest.fixture(autouse=True)
def _isolated_veil_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own operator state directory, so nodes never leak between tests."""
    monkeypatch.setenv("VEIL_HOME", str(tmp_path_factory.mktemp("veil-home")))
