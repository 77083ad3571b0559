from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto.hpke import SealingPrivateKey, SealingSuite, enc_size
from veil.errors import DecryptionError, FormatError, VeilError
from veil.sealing.envelope import (
    ENVELOPE_HEADER,
    ENVELOPE_MAGIC,
    HEADER_SIZE,
    MAX_BINDING_BYTES,
    MAX_ENVELOPE_BYTES,
    MAX_SEALED_PLAINTEXT_BYTES,
    SUITE_IDS,
    seal,
    unseal,
)

KEYS = {suite: SealingPrivateKey.generate(suite=suite) for suite in SealingSuite}
OTHER = {suite: SealingPrivateKey.generate(suite=suite) for suite in SealingSuite}
PQ = KEYS[SealingSuite.MLKEM768_X25519]
BINDING = b"instance:7f3a"
PLAINTEXT = b'{"secret": "value"}'
ENVELOPE = seal(PLAINTEXT, recipient=PQ.public_key(), binding=BINDING)
SUITES = sorted(SealingSuite)


def test_header_table_matches_size() -> None:
    assert ENVELOPE_HEADER.total == HEADER_SIZE == 20


@pytest.mark.parametrize("suite", SUITES)
def test_layout(suite: SealingSuite) -> None:
    blob = seal(PLAINTEXT, recipient=KEYS[suite].public_key(), binding=BINDING)
    magic, version, suite_id, enc_length, ct_size = struct.unpack("<8sHHII", blob[:HEADER_SIZE])
    assert (magic, version, suite_id) == (ENVELOPE_MAGIC, 1, SUITE_IDS[suite])
    assert enc_length == enc_size(suite)
    assert ct_size == len(PLAINTEXT) + 16
    assert len(blob) == HEADER_SIZE + enc_length + ct_size


@pytest.mark.parametrize("suite", SUITES)
@given(plaintext=st.binary(max_size=2048), binding=st.binary(max_size=64))
@settings(max_examples=20, deadline=None)
def test_round_trip(suite: SealingSuite, plaintext: bytes, binding: bytes) -> None:
    key = KEYS[suite]
    blob = seal(plaintext, recipient=key.public_key(), binding=binding)
    assert unseal(blob, recipient=key, binding=binding) == plaintext


def test_sealing_is_randomized() -> None:
    assert seal(PLAINTEXT, recipient=PQ.public_key(), binding=BINDING) != ENVELOPE


def _set(blob: bytes, offset: int, fmt: str, value: int) -> bytes:
    buf = bytearray(blob)
    struct.pack_into(fmt, buf, offset, value)
    return bytes(buf)


def _flip(blob: bytes, offset: int) -> bytes:
    buf = bytearray(blob)
    buf[offset] ^= 0x01
    return bytes(buf)


Attack = Callable[[], tuple[bytes, SealingPrivateKey, bytes]]

DECRYPTION_ATTACKS: dict[str, Attack] = {
    "wrong_binding": lambda: (ENVELOPE, PQ, b"instance:7f3b"),
    "empty_binding": lambda: (ENVELOPE, PQ, b""),
    "binding_prefix": lambda: (ENVELOPE, PQ, BINDING[:-1]),
    "other_recipient": lambda: (ENVELOPE, OTHER[SealingSuite.MLKEM768_X25519], BINDING),
    "other_suite_recipient": lambda: (ENVELOPE, KEYS[SealingSuite.X25519], BINDING),
    "suite_swapped_in_header": lambda: (
        _set(ENVELOPE, 10, "<H", SUITE_IDS[SealingSuite.X25519]),
        PQ,
        BINDING,
    ),
    "unknown_suite_id": lambda: (_set(ENVELOPE, 10, "<H", 99), PQ, BINDING),
    "enc_length_changed": lambda: (_set(ENVELOPE, 12, "<I", 32), PQ, BINDING),
    "ciphertext_size_changed": lambda: (_set(ENVELOPE, 16, "<I", 1), PQ, BINDING),
    "ciphertext_size_huge": lambda: (_set(ENVELOPE, 16, "<I", 0xFFFFFFFF), PQ, BINDING),
    "appended_byte": lambda: (ENVELOPE + b"\x00", PQ, BINDING),
    "oversized_binding": lambda: (ENVELOPE, PQ, b"x" * (MAX_BINDING_BYTES + 1)),
}


@pytest.mark.parametrize("attack", sorted(DECRYPTION_ATTACKS))
def test_attack_raises_decryption_error(attack: str) -> None:
    blob, key, binding = DECRYPTION_ATTACKS[attack]()
    with pytest.raises(DecryptionError) as exc:
        unseal(blob, recipient=key, binding=binding)
    assert str(exc.value) == "decryption failed"


def test_flipped_byte_anywhere_after_magic_and_version() -> None:
    # Every byte but the magic and version (which give FormatError) is authenticated.
    for offset in range(10, len(ENVELOPE)):
        with pytest.raises(DecryptionError):
            unseal(_flip(ENVELOPE, offset), recipient=PQ, binding=BINDING)


@pytest.mark.parametrize("offset", range(10))
def test_flipped_magic_or_version_is_format_error(offset: int) -> None:
    with pytest.raises(FormatError, match=r"magic|version"):
        unseal(_flip(ENVELOPE, offset), recipient=PQ, binding=BINDING)


def test_truncation_at_every_length() -> None:
    for cut in range(len(ENVELOPE)):
        expected = FormatError if cut < len(ENVELOPE_MAGIC) else DecryptionError
        with pytest.raises(expected):
            unseal(ENVELOPE[:cut], recipient=PQ, binding=BINDING)


def test_unknown_version_is_format_error() -> None:
    with pytest.raises(FormatError, match="unsupported sealed envelope version 2"):
        unseal(_set(ENVELOPE, 8, "<H", 2), recipient=PQ, binding=BINDING)


def test_oversized_envelope_is_format_error() -> None:
    blob = ENVELOPE + bytes(MAX_ENVELOPE_BYTES - len(ENVELOPE) + 1)
    with pytest.raises(FormatError, match="larger than"):
        unseal(blob, recipient=PQ, binding=BINDING)


def test_largest_plaintext_fits_and_larger_is_refused() -> None:
    key = KEYS[SealingSuite.MLKEM768_X25519]
    big = bytes(MAX_SEALED_PLAINTEXT_BYTES)
    blob = seal(big, recipient=key.public_key(), binding=BINDING)
    assert len(blob) == MAX_ENVELOPE_BYTES
    assert unseal(blob, recipient=key, binding=BINDING) == big
    with pytest.raises(ValueError, match="at most"):
        seal(big + b"x", recipient=key.public_key(), binding=BINDING)


def test_seal_refuses_oversized_binding() -> None:
    with pytest.raises(ValueError, match="binding"):
        seal(b"", recipient=PQ.public_key(), binding=bytes(MAX_BINDING_BYTES + 1))


@given(st.binary(max_size=1400))
@settings(max_examples=100, deadline=None)
def test_parsing_arbitrary_bytes_raises_only_veil_errors(data: bytes) -> None:
    try:
        unseal(data, recipient=PQ, binding=BINDING)
    except VeilError:
        return
    pytest.fail("arbitrary bytes unsealed")


@given(st.binary(min_size=HEADER_SIZE - 8, max_size=1300))
@settings(max_examples=100, deadline=None)
def test_arbitrary_body_after_magic_raises_decryption_or_format_error(body: bytes) -> None:
    with pytest.raises((DecryptionError, FormatError)):
        unseal(ENVELOPE_MAGIC + body, recipient=PQ, binding=BINDING)
