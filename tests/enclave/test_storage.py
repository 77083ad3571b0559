from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.enclave.backends.simulated import SimulatedBackend
from veil.enclave.storage import (
    APP_DATA_LABEL,
    MAX_SEALED_FILE_BYTES,
    SEALED_FILE_HEADER,
    SEALED_FILE_HEADER_SIZE,
    SealedDirectory,
    StorageKey,
    derive_storage_key,
    read_sealed_file,
    write_sealed_file,
)
from veil.errors import DecryptionError
from veil.identity.runtime import RuntimeIdentity

FINGERPRINT_A = "sha256:" + "aa" * 32
FINGERPRINT_B = "sha256:" + "bb" * 32
RUNTIME = RuntimeIdentity(version="0.1.0", digest="sha256:" + "cc" * 32)
PLAINTEXT = b"VEIL-STORAGE-PLAINTEXT-MARKER"


def key(seed: int = 1, fingerprint: str = FINGERPRINT_A, purpose: str = "app-data") -> StorageKey:
    return derive_storage_key(bytes([seed]) * 32, fingerprint=fingerprint, purpose=purpose)


def backend(tmp_path: Path, fingerprint: str) -> SimulatedBackend:
    return SimulatedBackend(
        root_path=tmp_path / "sim" / "root.pem",
        runtime=RUNTIME,
        fingerprint=fingerprint,
        security_config_digest=b"\x01" * 32,
    )


def test_header_layout_matches_its_table(tmp_path: Path) -> None:
    assert SEALED_FILE_HEADER.total == SEALED_FILE_HEADER_SIZE == 32
    # Byte-for-byte what version 1 wrote, independently of the table.
    write_sealed_file(tmp_path / "f", PLAINTEXT, key=key(), name="f")
    blob = (tmp_path / "f").read_bytes()
    magic, version, reserved, _salt, chunk_size = struct.unpack("<8sHH16sI", blob[:32])
    assert (magic, version, reserved, chunk_size) == (b"VEILSDAT", 1, 0, 256 * 1024)


def test_round_trip_and_no_plaintext_on_disk(tmp_path: Path) -> None:
    data = SealedDirectory(tmp_path / "data", key=key())
    data.write_bytes("notes/today.txt", PLAINTEXT)
    assert data.read_bytes("notes/today.txt") == PLAINTEXT
    assert data.exists("notes/today.txt")
    files = list((tmp_path / "data").iterdir())
    assert len(files) == 1
    blob = files[0].read_bytes()
    assert PLAINTEXT not in blob
    assert b"today" not in blob
    assert "today" not in files[0].name


def test_text_helpers_names_and_delete(tmp_path: Path) -> None:
    data = SealedDirectory(tmp_path / "data", key=key())
    data.write_text("a", "première")
    data.write_text("b", "second")
    assert data.read_text("a") == "première"
    assert sorted(data.names()) == ["a", "b"]
    data.delete("a")
    assert not data.exists("a")
    assert list(data.names()) == ["b"]
    with pytest.raises(FileNotFoundError):
        data.read_bytes("a")
    with pytest.raises(FileNotFoundError):
        data.delete("a")


def test_overwrite_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    data = SealedDirectory(tmp_path / "data", key=key())
    for i in range(3):
        data.write_bytes("f", str(i).encode())
    assert data.read_bytes("f") == b"2"
    assert len(list((tmp_path / "data").iterdir())) == 1


def test_empty_content_round_trips(tmp_path: Path) -> None:
    data = SealedDirectory(tmp_path / "data", key=key())
    data.write_bytes("empty", b"")
    assert data.read_bytes("empty") == b""


def test_another_key_cannot_read(tmp_path: Path) -> None:
    SealedDirectory(tmp_path / "data", key=key(1)).write_bytes("f", PLAINTEXT)
    other = SealedDirectory(tmp_path / "data", key=key(2))
    assert not other.exists("f")  # the name hides under another key too
    assert list(other.names()) == []
    # Even with the file renamed to where the other key looks, it does not open.
    (blob,) = (tmp_path / "data").iterdir()
    blob.rename(tmp_path / "data" / (key(2).file_id("f") + ".sealed"))
    with pytest.raises(DecryptionError):
        other.read_bytes("f")


def test_another_fingerprint_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "one.sealed"
    write_sealed_file(path, PLAINTEXT, key=key(fingerprint=FINGERPRINT_A), name="n")
    with pytest.raises(DecryptionError):
        read_sealed_file(path, key=key(fingerprint=FINGERPRINT_B), name="n")


def test_a_different_app_cannot_open_the_sealed_data(tmp_path: Path) -> None:
    """Two apps on the same simulated platform: the backend sealing keys differ."""
    app_a, app_b = backend(tmp_path, FINGERPRINT_A), backend(tmp_path, FINGERPRINT_B)
    assert app_a.sealing_key(APP_DATA_LABEL) != app_b.sealing_key(APP_DATA_LABEL)
    key_a = derive_storage_key(
        app_a.sealing_key(APP_DATA_LABEL), fingerprint=FINGERPRINT_A, purpose="app-data"
    )
    SealedDirectory(tmp_path / "data", key=key_a).write_bytes("db", PLAINTEXT)
    # App B even claiming A's fingerprint in the derivation has the wrong backend key.
    for fingerprint in (FINGERPRINT_A, FINGERPRINT_B):
        key_b = derive_storage_key(
            app_b.sealing_key(APP_DATA_LABEL), fingerprint=fingerprint, purpose="app-data"
        )
        (blob,) = (tmp_path / "data").iterdir()
        with pytest.raises(DecryptionError):
            read_sealed_file(blob, key=key_b, name="db")
    # The same app after a restart (new backend object) reads it back.
    again = backend(tmp_path, FINGERPRINT_A)
    key_again = derive_storage_key(
        again.sealing_key(APP_DATA_LABEL), fingerprint=FINGERPRINT_A, purpose="app-data"
    )
    assert SealedDirectory(tmp_path / "data", key=key_again).read_bytes("db") == PLAINTEXT


def test_file_swapped_for_another_name_is_refused(tmp_path: Path) -> None:
    data = SealedDirectory(tmp_path / "data", key=key())
    data.write_bytes("balance", b"100")
    data.write_bytes("debt", b"999999")
    k = key()
    balance = tmp_path / "data" / (k.file_id("balance") + ".sealed")
    debt = tmp_path / "data" / (k.file_id("debt") + ".sealed")
    balance.write_bytes(debt.read_bytes())
    with pytest.raises(DecryptionError):
        data.read_bytes("balance")


def test_purposes_are_separated(tmp_path: Path) -> None:
    path = tmp_path / "s.sealed"
    write_sealed_file(path, PLAINTEXT, key=key(purpose="secrets"), name="n")
    with pytest.raises(DecryptionError):
        read_sealed_file(path, key=key(purpose="app-data"), name="n")


@pytest.mark.parametrize("position", [0, 8, 10, 12, 28, 31, 32, 40, -1])
def test_every_tampered_byte_is_refused(tmp_path: Path, position: int) -> None:
    path = tmp_path / "s.sealed"
    write_sealed_file(path, PLAINTEXT, key=key(), name="n")
    blob = bytearray(path.read_bytes())
    blob[position] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(DecryptionError):
        read_sealed_file(path, key=key(), name="n")


def test_truncation_and_extension_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sealed"
    write_sealed_file(path, PLAINTEXT, key=key(), name="n")
    blob = path.read_bytes()
    for bad in (blob[:-1], blob[:SEALED_FILE_HEADER_SIZE], blob[:10], b"", blob + b"\x00"):
        path.write_bytes(bad)
        with pytest.raises(DecryptionError):
            read_sealed_file(path, key=key(), name="n")


def test_missing_file_reads_as_none(tmp_path: Path) -> None:
    assert read_sealed_file(tmp_path / "nope", key=key(), name="n") is None


@pytest.mark.parametrize("name", ["", "a\x00b", "x" * 256])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="sealed file name"):
        SealedDirectory(tmp_path, key=key()).write_bytes(name, b"")


def test_oversized_content_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at most"):
        write_sealed_file(
            tmp_path / "big", b"\x00" * (MAX_SEALED_FILE_BYTES + 1), key=key(), name="n"
        )


def test_key_repr_hides_the_key() -> None:
    assert repr(key()) == "StorageKey(<hidden>)"


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_raise_only_decryption_error(blob: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.sealed"
        path.write_bytes(blob)
        with pytest.raises(DecryptionError):
            read_sealed_file(path, key=key(), name="n")
