"""Fixtures of the docs tests: the offline wheelhouse the docs' commands install from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e._wheels import build_wheelhouse


@pytest.fixture(scope="session")
def docs_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything the examples and the scaffold templates depend on, as installed here."""
    return build_wheelhouse(tmp_path_factory.mktemp("docs-wheels"), ["fastapi", "flask"])
