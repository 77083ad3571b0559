"""The assembled DCAP bundles as fixtures, each from the folder of vectors that holds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attestation.dcap_bundles import NOT_REDISTRIBUTED, Bundle, load_bundles


@pytest.fixture(scope="session")
def bundles(vectors_dir: Path) -> dict[str, Bundle]:
    """The bundles shipped in tests/vectors."""
    return load_bundles(vectors_dir)


@pytest.fixture(scope="session")
def shared_bundles(shared_vectors_dir: Path) -> dict[str, Bundle]:
    """Every bundle of the shared vectors, the ones veil does not redistribute included."""
    return load_bundles(shared_vectors_dir)


@pytest.fixture
def bundle(request: pytest.FixtureRequest, bundle_id: str) -> Bundle:
    """The bundle a test's ``bundle_id`` parameter names, from the folder that holds it."""
    source = "shared_bundles" if bundle_id in NOT_REDISTRIBUTED else "bundles"
    found: dict[str, Bundle] = request.getfixturevalue(source)
    return found[bundle_id]
