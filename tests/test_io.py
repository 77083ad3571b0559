"""The shared bounded reads and atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from veil._io import read_bounded, write_atomic
from veil.errors import ConfigError, FormatError, OperationError


def test_read_bounded_reads_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 8)
    assert read_bounded(path, max_bytes=8, what="thing") == b"x" * 8
    with pytest.raises(FormatError, match=r"thing .*/f is larger than 7 bytes"):
        read_bounded(path, max_bytes=7, what="thing")


def test_read_bounded_names_the_file_and_raises_the_callers_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(OperationError, match=r"cannot read thing .*missing"):
        read_bounded(missing, max_bytes=8, what="thing")
    with pytest.raises(ConfigError, match="cannot read thing"):
        read_bounded(missing, max_bytes=8, what="thing", error=ConfigError)
    assert read_bounded(missing, max_bytes=8, what="thing", missing_ok=True) is None
    with pytest.raises(OperationError, match="cannot read thing"):
        read_bounded(tmp_path, max_bytes=8, what="thing")


def test_read_bounded_warns_about_a_private_file_others_can_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"k")
    path.chmod(0o644)
    assert read_bounded(path, max_bytes=8, what="key", private=True) == b"k"
    assert "chmod 600" in caplog.text


def test_write_atomic_sets_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_atomic(path, b"one", mode=0o640)
    write_atomic(path, b"two", mode=0o600)
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["f"]


def test_write_atomic_without_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(OperationError, match="already exists"):
        write_atomic(path, b"new", mode=0o600, overwrite=False)
    assert path.read_bytes() == b"old"
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OperationError, match="already exists"):
        write_atomic(dangling, b"new", mode=0o600, overwrite=False)
    assert sorted(os.listdir(tmp_path)) == ["f", "link"]


def test_write_atomic_reports_an_unwritable_directory(tmp_path: Path) -> None:
    with pytest.raises(OperationError, match="cannot write thing"):
        write_atomic(tmp_path / "no" / "f", b"x", mode=0o600, what="thing")


def test_state_directory_prefers_the_override_then_xdg_then_home(tmp_path: Path) -> None:
    from veil._homes import state_directory

    home = tmp_path / "home"

    def resolve(environ: dict[str, str]) -> Path:
        return state_directory(
            override_env="VEIL_X",
            xdg_env="XDG_X",
            xdg_default=(".local", "x"),
            environ=environ,
            home=home,
        )

    assert resolve({"VEIL_X": str(tmp_path / "o")}) == (tmp_path / "o").resolve()
    assert resolve({"XDG_X": str(tmp_path / "xdg")}) == (tmp_path / "xdg" / "veil").resolve()
    assert resolve({"VEIL_X": ""}) == (home / ".local" / "x" / "veil").resolve()
