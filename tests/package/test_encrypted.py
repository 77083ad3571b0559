from __future__ import annotations

import contextlib
import hashlib
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto.keys import CodeKey
from veil.crypto.stream import TAG_SIZE
from veil.errors import DecryptionError, OperationError
from veil.package.encrypted import (
    HEADER_FIXED_FIELDS,
    HEADER_FIXED_SIZE,
    TRAILER_FIELDS,
    TRAILER_SIZE,
    PackageFormatError,
    PackageHeader,
    decrypt_package,
    read_package_header,
    write_package,
)
from veil.package.fingerprint import fingerprint_source
from veil.package.source import AppSource

from ._helpers import make_app, write_tree

CHUNK = 1024


@pytest.fixture(scope="module")
def key() -> CodeKey:
    return CodeKey.generate()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, key: CodeKey) -> tuple[Path, Path]:
    """Two packages of the same app under the same key, several chunks each."""
    base = tmp_path_factory.mktemp("built")
    root = make_app(base / "app", {"data.bin": bytes(range(256)) * 20, "pkg/m.py": "x = 1\n"})
    source = AppSource.load(root)
    first, second = base / "a.veil", base / "b.veil"
    write_package(source, first, key=key, chunk_size=CHUNK)
    write_package(source, second, key=key, chunk_size=CHUNK)
    return first, second


def test_layout_tables_match_declared_sizes() -> None:
    assert HEADER_FIXED_FIELDS.total == HEADER_FIXED_SIZE == 50
    assert TRAILER_FIELDS.total == TRAILER_SIZE == 40


def test_round_trip_and_header_without_key(
    built: tuple[Path, Path], key: CodeKey, tmp_path: Path
) -> None:
    package = built[0]
    header = read_package_header(package)
    source = AppSource.load(package.parent / "app")
    assert header.app_name == "demo"
    assert header.key_id == key.key_id
    assert header.chunk_size == CHUNK
    assert header.fingerprint == fingerprint_source(source).fingerprint
    assert header.security_config == source.security
    assert header.body_size > 4 * (CHUNK + TAG_SIZE)
    result = decrypt_package(package, key=key, dest_dir=tmp_path / "out")
    assert result.header == header
    assert (tmp_path / "out/data.bin").read_bytes() == bytes(range(256)) * 20
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == [
        "app.py",
        "data.bin",
        "m.py",
        "pkg",
        "veil.toml",
    ]


def test_packages_hide_names_and_use_fresh_salts(built: tuple[Path, Path]) -> None:
    a, b = (p.read_bytes() for p in built)
    assert b"data.bin" not in a
    assert b"x = 1" not in a
    assert read_package_header(built[0]).salt != read_package_header(built[1]).salt
    assert a[-32:] == b[-32:]  # same fingerprint, different ciphertext
    assert a[500:600] != b[500:600]


def _flip(offset: int) -> Callable[[bytes, bytes], bytes]:
    def mutate(data: bytes, other: bytes) -> bytes:
        position = offset if offset >= 0 else len(data) + offset
        return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]

    return mutate


def _body(data: bytes) -> tuple[int, int]:
    header_size = struct.unpack_from("<I", data, 10)[0]
    return header_size, len(data) - TRAILER_SIZE


SEALED = CHUNK + TAG_SIZE


def _chunk(n: int) -> Callable[[bytes, bytes], bytes]:
    def mutate(data: bytes, other: bytes) -> bytes:
        start = _body(data)[0] + n * SEALED
        return _flip(start + 7)(data, other)

    return mutate


def _swap_with_other(data: bytes, other: bytes) -> bytes:
    start = _body(data)[0] + SEALED
    return data[:start] + other[start : start + SEALED] + data[start + SEALED :]


def _reorder(data: bytes, other: bytes) -> bytes:
    start = _body(data)[0]
    one, two = data[start : start + SEALED], data[start + SEALED : start + 2 * SEALED]
    return data[:start] + two + one + data[start + 2 * SEALED :]


def _drop_last_chunk(data: bytes, other: bytes) -> bytes:
    start, end = _body(data)
    last = start + ((end - start - 1) // SEALED) * SEALED
    return data[:last] + data[end:]


def _truncate_at_chunk(n: int) -> Callable[[bytes, bytes], bytes]:
    def mutate(data: bytes, other: bytes) -> bytes:
        return data[: _body(data)[0] + n * SEALED] + data[-TRAILER_SIZE:]

    return mutate


def _edit_config(data: bytes, other: bytes) -> bytes:
    # Still a valid, canonical config of the same length: only the AAD can catch it.
    edited = data.replace(b'"healthcheck":"/health"', b'"healthcheck":"/healtH"')
    assert edited != data
    return edited


def _other_trailer(data: bytes, other: bytes) -> bytes:
    return data[:-32] + hashlib.sha256(b"another app").digest()


TAMPERS: dict[str, Callable[[bytes, bytes], bytes]] = {
    "magic": _flip(0),
    "format_version": _flip(8),
    "header_size": _flip(10),
    "chunk_size": _flip(15),
    "salt": _flip(20),
    "app_name_length": _flip(50),
    "app_name": _flip(53),
    "key_id": _flip(60),
    "security_config": _flip(110),
    "security_config_valid_edit": _edit_config,
    "first_chunk": _chunk(0),
    "middle_chunk": _chunk(3),
    "last_chunk_tag": _flip(-TRAILER_SIZE - 1),
    "trailer_magic": _flip(-TRAILER_SIZE),
    "trailer_fingerprint": _flip(-1),
    "trailer_other_fingerprint": _other_trailer,
    "swap_chunk_from_other_package": _swap_with_other,
    "reorder_chunks": _reorder,
    "drop_last_chunk": _drop_last_chunk,
    "truncate_after_chunk_1": _truncate_at_chunk(1),
    "truncate_after_chunk_0": _truncate_at_chunk(0),
    "truncate_file_end": lambda data, other: data[:-1],
    "truncate_to_header": lambda data, other: data[:300],
    "append_bytes": lambda data, other: data + b"\0" * SEALED,
    "empty_file": lambda data, other: b"",
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_tampered_package_fails_opaquely_and_leaves_nothing(
    built: tuple[Path, Path], key: CodeKey, tmp_path: Path, tamper: str
) -> None:
    original, other = (p.read_bytes() for p in built)
    tampered = TAMPERS[tamper](original, other)
    assert tampered != original
    package = tmp_path / "pkg" / "t.veil"
    package.parent.mkdir()
    package.write_bytes(tampered)
    dest = tmp_path / "out"
    with pytest.raises(DecryptionError) as exc:
        decrypt_package(package, key=key, dest_dir=dest)
    assert str(exc.value) == "decryption failed"
    assert list(tmp_path.iterdir()) == [package.parent]


def test_wrong_key_and_forged_key_id(built: tuple[Path, Path], tmp_path: Path) -> None:
    wrong = CodeKey.generate()
    with pytest.raises(DecryptionError):
        decrypt_package(built[0], key=wrong, dest_dir=tmp_path / "out")
    data = built[0].read_bytes()
    forged = data.replace(read_package_header(built[0]).key_id.encode(), wrong.key_id.encode())
    (tmp_path / "forged.veil").write_bytes(forged)
    with pytest.raises(DecryptionError):
        decrypt_package(tmp_path / "forged.veil", key=wrong, dest_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_destination_refused(
    built: tuple[Path, Path], key: CodeKey, tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(OperationError, match="already exists"):
        decrypt_package(built[0], key=key, dest_dir=tmp_path / "out")


def test_existing_output_refused_unless_overwrite(tmp_path: Path, key: CodeKey) -> None:
    source = AppSource.load(make_app(tmp_path / "app"))
    (tmp_path / "x.veil").write_text("keep")
    with pytest.raises(OperationError, match="already exists"):
        write_package(source, tmp_path / "x.veil", key=key)
    assert (tmp_path / "x.veil").read_text() == "keep"
    write_package(source, tmp_path / "x.veil", key=key, overwrite=True)
    assert read_package_header(tmp_path / "x.veil").app_name == "demo"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app", "x.veil"]


def test_header_reader_errors_are_typed(tmp_path: Path) -> None:
    path = tmp_path / "x.veil"
    path.write_bytes(b"not a package at all" * 10)
    with pytest.raises(PackageFormatError, match="bad magic"):
        read_package_header(path)
    with pytest.raises(OperationError):
        read_package_header(tmp_path / "missing.veil")


@settings(max_examples=300)
@given(st.binary(max_size=400), st.binary(max_size=60), st.integers(0, 10_000))
def test_header_parser_raises_only_format_error(header: bytes, trailer: bytes, size: int) -> None:
    with contextlib.suppress(PackageFormatError):
        PackageHeader.from_parts(header, trailer, file_size=size)


_NAMES = st.text(alphabet="abcé_-.0", min_size=1, max_size=8).filter(lambda s: s not in {".", ".."})


@settings(max_examples=20, deadline=None)
@given(
    st.dictionaries(
        st.lists(_NAMES, min_size=1, max_size=3).map("/".join),
        st.binary(max_size=3000),
        max_size=6,
    )
)
def test_round_trip_random_trees(files: dict[str, bytes]) -> None:
    # Drop paths that clash as file and directory ("a" and "a/b") and the config itself.
    paths = sorted(files)
    keep = {p: d for p, d in files.items() if not any(q.startswith(p + "/") for q in paths)}
    keep = {p: d for p, d in keep.items() if p.split("/")[0] not in {"veil.toml", "app.py"}}
    key = CodeKey.generate()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        root = make_app(base / "app")
        write_tree(root, keep)
        source = AppSource.load(root)
        info = write_package(source, base / "p.veil", key=key, chunk_size=512)
        decrypt_package(base / "p.veil", key=key, dest_dir=base / "out")
        for path, data in keep.items():
            assert (base / "out" / path).read_bytes() == data
        extracted = {p.relative_to(base / "out").as_posix() for p in (base / "out").rglob("*")}
        assert {p for p in extracted if (base / "out" / p).is_file()} == {
            *keep,
            "veil.toml",
            "app.py",
        }
        assert info.fingerprint == fingerprint_source(AppSource.load(base / "out")).fingerprint
