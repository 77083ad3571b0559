from __future__ import annotations

import io
import os
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto.stream import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    TAG_SIZE,
    ciphertext_size,
    decrypt_stream,
    encrypt_stream,
)
from veil.errors import DecryptionError, FormatError

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
AAD = b"header-digest-A"
OTHER_AAD = b"header-digest-B"
CHUNK = 64
SEALED = CHUNK + TAG_SIZE


def encrypt(data: bytes, *, key: bytes = KEY, aad: bytes = AAD, chunk_size: int = CHUNK) -> bytes:
    out = io.BytesIO()
    assert encrypt_stream(io.BytesIO(data), out, key=key, aad=aad, chunk_size=chunk_size) == len(
        data
    )
    return out.getvalue()


def decrypt(blob: bytes, *, key: bytes = KEY, aad: bytes = AAD, chunk_size: int = CHUNK) -> bytes:
    out = io.BytesIO()
    n = decrypt_stream(io.BytesIO(blob), out, key=key, aad=aad, chunk_size=chunk_size)
    assert n == len(out.getvalue())
    return out.getvalue()


def chunks(blob: bytes) -> list[bytes]:
    return [blob[i : i + SEALED] for i in range(0, len(blob), SEALED)]


# 3 full chunks and a short final one.
PLAIN = os.urandom(3 * CHUNK + 20)
BLOB = encrypt(PLAIN)
OTHER_BLOB = encrypt(PLAIN, aad=OTHER_AAD)


def test_blob_has_expected_chunk_layout() -> None:
    assert len(chunks(BLOB)) == 4
    assert len(BLOB) == ciphertext_size(len(PLAIN), chunk_size=CHUNK)


@given(data=st.binary(max_size=1200), chunk_size=st.integers(MIN_CHUNK_SIZE, 300))
@settings(max_examples=150, deadline=None)
def test_round_trip(data: bytes, chunk_size: int) -> None:
    blob = encrypt(data, chunk_size=chunk_size)
    assert len(blob) == ciphertext_size(len(data), chunk_size=chunk_size)
    assert decrypt(blob, chunk_size=chunk_size) == data


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1]
)
def test_round_trip_at_chunk_boundaries(size: int) -> None:
    data = os.urandom(size)
    assert decrypt(encrypt(data)) == data


def test_round_trip_default_chunk_size() -> None:
    data = os.urandom(DEFAULT_CHUNK_SIZE * 2 + 5)
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, key=KEY, aad=AAD)
    assert decrypt(out.getvalue(), chunk_size=DEFAULT_CHUNK_SIZE) == data


def test_empty_plaintext_is_one_empty_final_chunk() -> None:
    blob = encrypt(b"")
    assert blob == AESGCM(KEY).encrypt(bytes(11) + b"\x01", b"", AAD)
    assert decrypt(blob) == b""


def test_nonce_is_big_endian_counter_then_last_flag() -> None:
    """The documented wire format: an independent AES-GCM implementation can read it."""
    data = os.urandom(2 * CHUNK + 3)
    aead = AESGCM(KEY)
    expected = (
        aead.encrypt((0).to_bytes(11, "big") + b"\x00", data[:CHUNK], AAD)
        + aead.encrypt((1).to_bytes(11, "big") + b"\x00", data[CHUNK : 2 * CHUNK], AAD)
        + aead.encrypt((2).to_bytes(11, "big") + b"\x01", data[2 * CHUNK :], AAD)
    )
    assert encrypt(data) == expected


def test_exact_multiple_ends_with_full_last_chunk() -> None:
    data = os.urandom(2 * CHUNK)
    aead = AESGCM(KEY)
    blob = encrypt(data)
    assert len(blob) == 2 * SEALED
    assert blob[SEALED:] == aead.encrypt((1).to_bytes(11, "big") + b"\x01", data[CHUNK:], AAD)


def _flip(blob: bytes, offset: int) -> bytes:
    buf = bytearray(blob)
    buf[offset] ^= 0x01
    return bytes(buf)


def _join(parts: list[bytes]) -> bytes:
    return b"".join(parts)


ATTACKS: dict[str, Callable[[], bytes]] = {
    "flip_first_chunk": lambda: _flip(BLOB, 0),
    "flip_first_chunk_tag": lambda: _flip(BLOB, SEALED - 1),
    "flip_middle_chunk": lambda: _flip(BLOB, SEALED + 10),
    "flip_last_chunk": lambda: _flip(BLOB, 3 * SEALED + 1),
    "flip_last_byte": lambda: _flip(BLOB, len(BLOB) - 1),
    "drop_first_chunk": lambda: _join(chunks(BLOB)[1:]),
    "drop_middle_chunk": lambda: _join([c for i, c in enumerate(chunks(BLOB)) if i != 1]),
    "drop_last_chunk": lambda: _join(chunks(BLOB)[:-1]),
    "duplicate_middle_chunk": lambda: _join(
        [*chunks(BLOB)[:2], chunks(BLOB)[1], *chunks(BLOB)[2:]]
    ),
    "duplicate_last_chunk": lambda: BLOB + chunks(BLOB)[-1],
    "swap_first_two_chunks": lambda: _join([chunks(BLOB)[1], chunks(BLOB)[0], *chunks(BLOB)[2:]]),
    "swap_chunk_from_stream_with_other_aad": lambda: _join(
        [chunks(BLOB)[0], chunks(OTHER_BLOB)[1], *chunks(BLOB)[2:]]
    ),
    "last_chunk_from_stream_with_other_aad": lambda: _join(
        [*chunks(BLOB)[:-1], chunks(OTHER_BLOB)[-1]]
    ),
    "append_one_byte": lambda: BLOB + b"\x00",
    "append_tag_sized": lambda: BLOB + bytes(TAG_SIZE),
    "append_full_chunk": lambda: BLOB + bytes(SEALED),
    "empty_ciphertext": lambda: b"",
    "shorter_than_tag": lambda: BLOB[: TAG_SIZE - 1],
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_refused(attack: str) -> None:
    with pytest.raises(DecryptionError) as exc:
        decrypt(ATTACKS[attack]())
    assert str(exc.value) == "decryption failed"


@pytest.mark.parametrize("boundary", range(4))
def test_truncation_at_every_chunk_boundary(boundary: int) -> None:
    with pytest.raises(DecryptionError):
        decrypt(BLOB[: boundary * SEALED])


@pytest.mark.parametrize("cut", [1, TAG_SIZE, SEALED // 2, SEALED - 1])
@pytest.mark.parametrize("chunk", range(4))
def test_truncation_inside_every_chunk(chunk: int, cut: int) -> None:
    end = min(chunk * SEALED + cut, len(BLOB) - 1)
    with pytest.raises(DecryptionError):
        decrypt(BLOB[:end])


def test_truncating_exact_multiple_stream_at_boundary() -> None:
    blob = encrypt(os.urandom(3 * CHUNK))
    for boundary in range(3):
        with pytest.raises(DecryptionError):
            decrypt(blob[: boundary * SEALED])


def test_empty_final_chunk_after_full_chunks_is_refused() -> None:
    # Never written by the encryptor: a full-chunk stream ends with a full last chunk.
    data = os.urandom(CHUNK)
    aead = AESGCM(KEY)
    forged = aead.encrypt(bytes(12), data, AAD) + aead.encrypt(
        (1).to_bytes(11, "big") + b"\x01", b"", AAD
    )
    with pytest.raises(DecryptionError):
        decrypt(forged)


def test_wrong_key() -> None:
    with pytest.raises(DecryptionError):
        decrypt(BLOB, key=OTHER_KEY)


def test_wrong_aad() -> None:
    with pytest.raises(DecryptionError):
        decrypt(BLOB, aad=OTHER_AAD)


def test_wrong_chunk_size() -> None:
    with pytest.raises(DecryptionError):
        decrypt(BLOB, chunk_size=CHUNK * 2)


@given(data=st.binary(max_size=400), position=st.integers(0), bit=st.integers(0, 7))
@settings(max_examples=100, deadline=None)
def test_any_bit_flip_is_refused(data: bytes, position: int, bit: int) -> None:
    blob = bytearray(encrypt(data, chunk_size=MIN_CHUNK_SIZE * 4))
    blob[position % len(blob)] ^= 1 << bit
    with pytest.raises(DecryptionError):
        decrypt(bytes(blob), chunk_size=MIN_CHUNK_SIZE * 4)


@pytest.mark.parametrize("chunk_size", [0, MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1])
def test_decrypt_refuses_chunk_size_out_of_range(chunk_size: int) -> None:
    with pytest.raises(FormatError, match="chunk size"):
        decrypt(BLOB, chunk_size=chunk_size)


@pytest.mark.parametrize("chunk_size", [0, MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1])
def test_encrypt_refuses_chunk_size_out_of_range(chunk_size: int) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        encrypt(b"x", chunk_size=chunk_size)


@pytest.mark.parametrize("key", [b"", bytes(16), bytes(33)])
def test_key_must_be_32_bytes(key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt(b"x", key=key)
    with pytest.raises(ValueError, match="32 bytes"):
        decrypt(BLOB, key=key)


def test_progress_reports_increments() -> None:
    seen: list[int] = []
    encrypt_stream(
        io.BytesIO(PLAIN), io.BytesIO(), key=KEY, aad=AAD, chunk_size=CHUNK, on_progress=seen.append
    )
    assert seen == [CHUNK, CHUNK, CHUNK, 20]
    seen.clear()
    decrypt_stream(
        io.BytesIO(BLOB), io.BytesIO(), key=KEY, aad=AAD, chunk_size=CHUNK, on_progress=seen.append
    )
    assert seen == [CHUNK, CHUNK, CHUNK, 20]


class TrickleReader(io.RawIOBase):
    """Returns at most ``step`` bytes per read, like a pipe, and records request sizes."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step
        self.largest_request = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.largest_request = max(self.largest_request, len(buffer))
        n = min(self._step, len(buffer), len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def test_short_reads_are_handled_and_memory_is_bounded() -> None:
    src = TrickleReader(PLAIN, 7)
    out = io.BytesIO()
    encrypt_stream(src, out, key=KEY, aad=AAD, chunk_size=CHUNK)  # type: ignore[arg-type]
    assert out.getvalue() == BLOB
    assert src.largest_request <= CHUNK

    src = TrickleReader(BLOB, 5)
    out = io.BytesIO()
    decrypt_stream(src, out, key=KEY, aad=AAD, chunk_size=CHUNK)  # type: ignore[arg-type]
    assert out.getvalue() == PLAIN
    assert src.largest_request <= SEALED


class ReadOnly:
    """A source with ``read`` but no ``readinto``."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._src.read(min(n, 3))


def test_source_without_readinto() -> None:
    out = io.BytesIO()
    encrypt_stream(ReadOnly(PLAIN), out, key=KEY, aad=AAD, chunk_size=CHUNK)  # type: ignore[arg-type]
    assert out.getvalue() == BLOB


def test_decrypt_writes_only_authenticated_prefix_before_failing() -> None:
    out = io.BytesIO()
    with pytest.raises(DecryptionError):
        decrypt_stream(io.BytesIO(_flip(BLOB, 2 * SEALED)), out, key=KEY, aad=AAD, chunk_size=CHUNK)
    # Documented behaviour: callers must discard dst on error; what is there is authentic.
    assert out.getvalue() == PLAIN[: 2 * CHUNK]


def test_ciphertext_size() -> None:
    assert ciphertext_size(0, chunk_size=CHUNK) == TAG_SIZE
    assert ciphertext_size(CHUNK, chunk_size=CHUNK) == SEALED
    assert ciphertext_size(CHUNK + 1, chunk_size=CHUNK) == CHUNK + 1 + 2 * TAG_SIZE
    with pytest.raises(ValueError, match="negative"):
        ciphertext_size(-1, chunk_size=CHUNK)
