from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from veil.package._tar import (
    BLOCK_SIZE,
    MAX_USTAR_SIZE,
    USTAR_FIELDS,
    encode_member_header,
)
from veil.package.archive import (
    ArchiveError,
    ArchiveMember,
    ArchivePlan,
    ArchiveReader,
    archive_digest,
    check_archive_path,
    collect_members,
    write_archive,
)
from veil.package.fingerprint import fingerprint_source
from veil.package.ignore import IgnoreRules
from veil.package.source import AppSource

from ._helpers import MINIMAL_TOML, make_app, write_tree


def _archive(root: Path, patterns: tuple[str, ...] = ()) -> bytes:
    plan = ArchivePlan.from_members(collect_members(root, IgnoreRules(patterns)))
    out = io.BytesIO()
    digest = write_archive(plan, out)
    assert hashlib.sha256(out.getvalue()).digest() == digest
    assert len(out.getvalue()) == plan.size
    return out.getvalue()


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


def test_ustar_layout_table_is_contiguous_and_one_block() -> None:
    offset = 0
    for _, start, size in USTAR_FIELDS:
        assert start == offset
        offset += size
    assert offset == BLOCK_SIZE


def test_archive_is_standard_tar_with_normalised_metadata(tmp_path: Path) -> None:
    long_name = "deep/" + "d" * 120 + "/é.txt"
    root = write_tree(
        tmp_path / "src",
        {"b.txt": "bee", "a/run.sh": "#!/bin/sh\n", long_name: "long", "empty": b""},
        executable={"a/run.sh"},
    )
    if os.geteuid() == 0:
        os.chown(root / "b.txt", 1234, 5678)
    data = _archive(root)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["a/run.sh", "b.txt", long_name, "empty"]
        for m in members:
            assert m.isreg()
            assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 0)
        assert {m.name: m.mode for m in members}["a/run.sh"] == 0o755
        assert {m.name: m.mode for m in members}["b.txt"] == 0o644
        extracted = tar.extractfile(long_name)
        assert extracted is not None
        assert extracted.read() == b"long"


def test_paths_sort_by_utf8_bytes(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"a.txt": "", "a/b": "", "B": "", "é": "", "z": ""})
    assert _names(_archive(root)) == ["B", "a.txt", "a/b", "z", "é"]


def test_pax_size_record_for_huge_files() -> None:
    header = encode_member_header("big.bin", size=MAX_USTAR_SIZE + 1, executable=False)
    assert len(header) == 3 * BLOCK_SIZE
    assert b" size=8589934592\n" in header
    small = encode_member_header("big.bin", size=MAX_USTAR_SIZE, executable=False)
    assert len(small) == BLOCK_SIZE


def test_default_and_configured_ignores(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "app.py": "",
            ".git/HEAD": "",
            "pkg/__pycache__/m.cpython-311.pyc": "",
            "pkg/m.pyc": "",
            ".venv/bin/python": "",
            "logs/x.log": "",
            "keep.log": "",
            "data/secret.txt": "",
            ".veilignore": "data/\n# comment\n",
        },
    )
    rules = IgnoreRules.for_app(root, ["*.log", "!keep.log"])
    paths = sorted(m.path for m in collect_members(root, rules))
    assert paths == [".veilignore", "app.py", "keep.log"]


def test_default_ignores_cannot_be_negated(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"a.pyc": "", "b.py": ""})
    assert [m.path for m in collect_members(root, IgnoreRules(["!*.pyc"]))] == ["b.py"]


def test_symlinks_refused_even_inside_the_tree(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {"a.txt": "a"})
    (root / "inside").symlink_to("a.txt")
    with pytest.raises(ArchiveError, match="symlinks are not packaged"):
        collect_members(root, IgnoreRules([]))
    (root / "inside").unlink()
    (root / "outside").symlink_to("/etc/passwd")
    with pytest.raises(ArchiveError, match="symlinks"):
        collect_members(root, IgnoreRules([]))
    assert [m.path for m in collect_members(root, IgnoreRules(["outside"]))] == ["a.txt"]


def test_fifo_and_socket_refused(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {"a.txt": "a"})
    os.mkfifo(root / "pipe")
    with pytest.raises(ArchiveError, match="not a regular file"):
        collect_members(root, IgnoreRules([]))
    (root / "pipe").unlink()
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(root / "sock"))
        with pytest.raises(ArchiveError, match="not a regular file"):
            collect_members(root, IgnoreRules([]))


def test_reserved_directory_refused(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {".veil/lock.json": "{}"})
    with pytest.raises(ArchiveError, match="reserved"):
        collect_members(root, IgnoreRules([]))


def test_non_utf8_name_refused(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    (Path(os.fsdecode(bytes(root) + b"/bad\xff"))).write_text("")
    with pytest.raises(ArchiveError, match="UTF-8"):
        ArchivePlan.from_members(collect_members(root, IgnoreRules([])))


@pytest.mark.parametrize(
    "path", ["", "/etc/passwd", "a/../b", "./a", "a//b", "a/", "a\\b", "a\nb", "x" * 256]
)
def test_bad_member_paths_refused(path: str) -> None:
    with pytest.raises(ArchiveError):
        check_archive_path(path)


def test_duplicate_and_clashing_members_refused(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("")
    with pytest.raises(ArchiveError, match="duplicate"):
        ArchivePlan.from_members([ArchiveMember("a", f, 0, False)] * 2)
    with pytest.raises(ArchiveError, match="both a file and a directory"):
        ArchivePlan.from_members(
            [ArchiveMember("a", f, 0, False), ArchiveMember("a/b", f, 0, False)]
        )


def test_file_changing_while_packaged_is_refused(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"a.txt": "12345"})
    plan = ArchivePlan.from_members(collect_members(root, IgnoreRules([])))
    (root / "a.txt").write_text("123")
    with pytest.raises(ArchiveError, match="changed while being packaged"):
        archive_digest(plan)
    (root / "a.txt").write_text("12345")
    reader = plan.open()
    buffer = bytearray(BLOCK_SIZE)
    assert reader.readinto(buffer) == BLOCK_SIZE  # header; the file is opened
    with (root / "a.txt").open("a") as f:
        f.write("678")
    with pytest.raises(ArchiveError, match="grew while being packaged"):
        _drain(reader, buffer)
    reader.close()


def _drain(reader: ArchiveReader, buffer: bytearray) -> None:
    while reader.readinto(buffer):
        pass


def _copy_with_attributes(src: Path, dst: Path, *, mtime: int, umask: int) -> None:
    """Copy src to dst in a subprocess running under ``umask``, then set every mtime."""
    code = (
        "import os, shutil, sys; os.umask(int(sys.argv[3])); "
        "shutil.copytree(sys.argv[1], sys.argv[2], copy_function=shutil.copyfile)"
    )
    subprocess.run([sys.executable, "-c", code, str(src), str(dst), str(umask)], check=True)
    for path in [dst, *dst.rglob("*")]:
        os.utime(path, (mtime, mtime))


def test_reproducible_across_directories_umasks_and_mtimes(tmp_path: Path) -> None:
    original = make_app(
        tmp_path / "original",
        {"pkg/__init__.py": "", "pkg/data.bin": os.urandom(5000), "run.sh": "#!/bin/sh\n"},
    )
    (original / "run.sh").chmod(0o755)
    first = tmp_path / "one" / "deeper" / "app"
    second = tmp_path / "two"
    first.parent.mkdir(parents=True)
    _copy_with_attributes(original, first, mtime=1_000_000_000, umask=0o022)
    _copy_with_attributes(original, second, mtime=1_700_000_000, umask=0o077)
    (first / "run.sh").chmod(0o755)
    (second / "run.sh").chmod(0o700)  # only the owner's exec bit counts
    assert stat.S_IMODE((second / "pkg/data.bin").stat().st_mode) == 0o600
    archives = [_archive(root) for root in (original, first, second)]
    assert archives[0] == archives[1] == archives[2]
    fingerprints = {fingerprint_source(AppSource.load(r)) for r in (original, first, second)}
    assert len(fingerprints) == 1


def test_exec_bit_changes_the_archive(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"veil.toml": MINIMAL_TOML, "run.sh": ""})
    before = _archive(root)
    (root / "run.sh").chmod(0o744)
    assert _archive(root) != before
    shutil.rmtree(root)
