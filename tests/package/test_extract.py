from __future__ import annotations

import hashlib
import io
import itertools
import os
import stat
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.errors import OperationError
from veil.package._tar import END_OF_ARCHIVE, encode_member_header, padding
from veil.package.archive import ArchiveError, ArchivePlan, collect_members, write_archive
from veil.package.extract import MAX_PAX_HEADER_BYTES, ArchiveExtractor, extract_archive
from veil.package.ignore import IgnoreRules

from ._helpers import regular, special, tar_bytes, write_tree


def _canonical(files: dict[str, bytes]) -> bytes:
    out = b""
    for path in sorted(files, key=str.encode):
        data = files[path]
        out += encode_member_header(path, size=len(data), executable=False) + data
        out += padding(len(data))
    return out + END_OF_ARCHIVE


def _extract_refused(data: bytes, tmp_path: Path) -> ArchiveError:
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError) as exc:
        extract_archive(io.BytesIO(data), dest)
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    return exc.value


def test_round_trip_from_directory(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", {"a/b/c.txt": "abc", "z": b"\0" * 1000, "x.sh": "#!"})
    (root / "x.sh").chmod(0o755)
    out = io.BytesIO()
    digest = write_archive(ArchivePlan.from_members(collect_members(root, IgnoreRules([]))), out)
    dest = tmp_path / "out"
    assert extract_archive(io.BytesIO(out.getvalue()), dest, read_size=7) == digest
    assert (dest / "a/b/c.txt").read_text() == "abc"
    assert (dest / "z").read_bytes() == b"\0" * 1000
    assert (dest / "x.sh").stat().st_mode & 0o100
    assert not (dest / "z").stat().st_mode & 0o100


def test_canonical_tarfile_output_is_accepted(tmp_path: Path) -> None:
    # Our canonical form equals what Python's tarfile writes for the same normalised members.
    data = _canonical({"a.txt": b"hello"})
    assert data.startswith(tar_bytes(regular("a.txt", b"hello"))[:512])
    extract_archive(io.BytesIO(data), tmp_path / "out")
    assert (tmp_path / "out/a.txt").read_bytes() == b"hello"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([regular("../evil", b"x")], "'..'"),
        ([regular("a/../../evil", b"x")], "'..'"),
        ([regular("/etc/evil", b"x")], "absolute"),
        ([special("link", tarfile.SYMTYPE, linkname="/etc/passwd")], "type '2'"),
        ([special("link", tarfile.SYMTYPE, linkname="a.txt")], "type '2'"),
        ([regular("a.txt"), special("hard", tarfile.LNKTYPE, linkname="a.txt")], "type '1'"),
        ([special("dev", tarfile.CHRTYPE)], "type '3'"),
        ([special("blk", tarfile.BLKTYPE)], "type '4'"),
        ([special("fifo", tarfile.FIFOTYPE)], "type '6'"),
        ([special("dir", tarfile.DIRTYPE)], "type '5'"),
        ([regular("a.txt"), regular("a.txt")], "duplicated or out of order"),
        ([regular("b.txt"), regular("a.txt")], "duplicated or out of order"),
        ([regular("a"), regular("a/b")], "both a file and a directory"),
        ([regular("a.txt", mode=0o4755)], "not in canonical form"),
        ([regular("a.txt", mode=0o600)], "not in canonical form"),
    ],
)
def test_hostile_archives_refused(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], message: str
) -> None:
    assert message in str(_extract_refused(tar_bytes(*members), tmp_path))
    assert not (tmp_path.parent / "evil").exists()


def test_non_normalised_metadata_refused(tmp_path: Path) -> None:
    for field, value in (("mtime", 1), ("uid", 1000), ("uname", "root")):
        info, data = regular("a.txt")
        setattr(info, field, value)
        assert "canonical" in str(_extract_refused(tar_bytes((info, data)), tmp_path))


def test_gnu_and_pax_extensions_refused(tmp_path: Path) -> None:
    long_name = regular("d/" + "x" * 150)
    _extract_refused(tar_bytes(long_name, fmt=tarfile.GNU_FORMAT), tmp_path)
    info, data = regular("a.txt")
    info.pax_headers = {"comment": "hello"}
    assert "not accepted" in str(
        _extract_refused(tar_bytes((info, data), fmt=tarfile.PAX_FORMAT), tmp_path)
    )


def test_oversized_pax_header_refused(tmp_path: Path) -> None:
    info, data = regular("a.txt")
    info.pax_headers = {"path": "a" * MAX_PAX_HEADER_BYTES}
    message = str(_extract_refused(tar_bytes((info, data), fmt=tarfile.PAX_FORMAT), tmp_path))
    assert "PAX header larger than" in message


def test_trailing_garbage_truncation_and_bad_padding_refused(tmp_path: Path) -> None:
    good = _canonical({"a.txt": b"hello"})
    assert "after the end" in str(_extract_refused(good + b"\0" * 512, tmp_path))
    assert "end-of-archive" in str(_extract_refused(good[:-512] + b"x" * 512, tmp_path))
    for cut in (100, 512, 600, len(good) - 512):
        assert "truncated" in str(_extract_refused(good[:cut], tmp_path))
    padded = bytearray(good)
    padded[512 + 5] = 1
    assert "padding" in str(_extract_refused(bytes(padded), tmp_path))
    corrupt = bytearray(good)
    corrupt[0] ^= 1
    assert "checksum" in str(_extract_refused(bytes(corrupt), tmp_path))


def test_existing_destination_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(OperationError, match="already exists"):
        extract_archive(io.BytesIO(_canonical({"a": b""})), tmp_path / "out")


def test_extractor_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a.txt").symlink_to(tmp_path / "victim")
    extractor = ArchiveExtractor(dest)
    with pytest.raises(OperationError):
        extractor.write(_canonical({"a.txt": b"owned"}))
    extractor.close()
    assert not (tmp_path / "victim").exists()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=3))
def test_extractor_raises_only_archive_error(tmp_path: Path, noise: bytes, where: int) -> None:
    base = bytearray(_canonical({"a.txt": b"hello", "b/c": b"x" * 600}))
    position = [0, 100, 512, 1536][where]
    data = bytes(base[:position]) + noise + bytes(base[position + len(noise) :])
    dest = tmp_path / f"h{abs(hash((noise, where)))}"
    try:
        extract_archive(io.BytesIO(data), dest)
    except ArchiveError:
        assert not dest.exists()


def test_file_then_directory_of_the_same_name_refused_when_not_adjacent(tmp_path: Path) -> None:
    # "a.txt" sorts between "a" and "a/b": the clash must not depend on the previous member.
    members = [regular("a"), regular("a.txt"), regular("a/b")]
    assert "both a file and a directory" in str(_extract_refused(tar_bytes(*members), tmp_path))


def test_each_directory_created_once_with_exact_modes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"d{i % 3}/e/f{i}": bytes([i]) * i for i in range(30)}
    files.update({"top": b"t", "d0/x.sh": b"#!"})
    out = b""
    for path in sorted(files, key=str.encode):
        data = files[path]
        out += encode_member_header(path, size=len(data), executable=path.endswith(".sh"))
        out += data + padding(len(data))
    made: list[str] = []
    real_mkdir = os.mkdir

    def counting_mkdir(path: str, mode: int = 0o777) -> None:
        made.append(os.path.relpath(path, tmp_path / "dest"))
        real_mkdir(path, mode)

    (tmp_path / "dest").mkdir()
    monkeypatch.setattr(os, "mkdir", counting_mkdir)
    extractor = ArchiveExtractor(tmp_path / "dest")
    extractor.write(out + END_OF_ARCHIVE)
    extractor.finish()
    extractor.close()
    monkeypatch.undo()
    assert sorted(made) == ["d0", "d0/e", "d1", "d1/e", "d2", "d2/e"]
    umask = os.umask(0o022)
    os.umask(umask)
    for path, data in files.items():
        target = tmp_path / "dest" / path
        assert target.read_bytes() == data
        expected = 0o755 if path.endswith(".sh") else 0o644
        assert stat.S_IMODE(target.stat().st_mode) == expected & ~umask


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=40))
def test_any_split_of_the_input_extracts_the_same(tmp_path: Path, pieces: list[int]) -> None:
    files = {"a": b"", "b/c": b"x" * 511, "b/d": b"y" * 512, "e/f/g": b"z" * 1500, "h": b"!"}
    data = _canonical(files)
    dest = tmp_path / f"s{abs(hash(tuple(pieces)))}"
    dest.mkdir()
    extractor = ArchiveExtractor(dest)
    position = 0
    for size in itertools.cycle(pieces):
        if position >= len(data):
            break
        extractor.write(data[position : position + size])
        position += size
    assert extractor.finish() == hashlib.sha256(data).digest()
    extractor.close()
    for path, content in files.items():
        assert (dest / path).read_bytes() == content
