"""The vectors shipped in tests/vectors: licensed, unchanged copies; and the shared-only rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_VECTORS_ENV, find_shared_vectors

#: Files written for veil, not copied: the licences, the README, the filtered manifest.
NOT_COPIED = {"README.md", "LICENSE", "manifest.json"}


def _copied(vectors_dir: Path) -> list[Path]:
    return sorted(
        path for path in vectors_dir.rglob("*") if path.is_file() and path.name not in NOT_COPIED
    )


def test_every_source_folder_carries_its_licence(vectors_dir: Path) -> None:
    readme = (vectors_dir / "README.md").read_text()
    for folder in sorted(p for p in vectors_dir.iterdir() if p.is_dir()):
        if folder.name == "_assembled":
            continue
        licence = (folder / "LICENSE").read_text()
        assert licence.startswith(("MIT License", "Copyright")), folder.name
        assert "MIT License" in licence or "Apache License" in licence, folder.name
        assert f"`{folder.name}/`" in readme, folder.name


def test_shipped_vectors_are_unchanged_copies_of_the_shared_ones(
    vectors_dir: Path, shared_vectors_dir: Path
) -> None:
    copied = _copied(vectors_dir)
    assert len(copied) > 50
    for path in copied:
        relative = path.relative_to(vectors_dir)
        assert path.read_bytes() == (shared_vectors_dir / relative).read_bytes(), relative


def test_shipped_manifest_is_part_of_the_shared_one(
    vectors_dir: Path, shared_vectors_dir: Path
) -> None:
    shipped = json.loads((vectors_dir / "_assembled/manifest.json").read_bytes())
    shared = json.loads((shared_vectors_dir / "_assembled/manifest.json").read_bytes())
    assert shipped == [entry for entry in shared if entry in shipped]
    for entry in shipped:
        assert (vectors_dir / entry["quote_file"]).is_file(), entry["id"]
        assert (vectors_dir / entry["collateral_file"].split(" ")[0]).is_file(), entry["id"]


def test_missing_shared_vectors_skip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SHARED_VECTORS_ENV, str(tmp_path / "absent"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="shared test vectors not found"):
        find_shared_vectors()


def test_missing_shared_vectors_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(SHARED_VECTORS_ENV, str(tmp_path / "absent"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires them"):
        find_shared_vectors()


def test_present_shared_vectors_are_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("vectors\n")
    monkeypatch.setenv(SHARED_VECTORS_ENV, str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert find_shared_vectors() == tmp_path
