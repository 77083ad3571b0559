from __future__ import annotations

import contextlib
import hashlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto.digest import (
    format_tagged_sha256,
    parse_tagged_sha256,
    sha256_tagged,
    sha256_tagged_stream,
)
from veil.errors import FormatError

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_known_value() -> None:
    assert sha256_tagged(b"") == EMPTY
    assert sha256_tagged_stream(io.BytesIO(b"")) == EMPTY


def test_stream_matches_one_shot() -> None:
    data = bytes(range(256)) * 9000
    assert sha256_tagged_stream(io.BytesIO(data)) == sha256_tagged(data)


@given(st.binary())
def test_round_trip(data: bytes) -> None:
    assert parse_tagged_sha256(sha256_tagged(data)) == hashlib.sha256(data).digest()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "start with"),
        ("sha512:" + "0" * 64, "start with"),
        ("SHA256:" + "0" * 64, "start with"),
        ("sha256:" + "0" * 63, "64 hex digits"),
        ("sha256:" + "0" * 65, "64 hex digits"),
        ("sha256:" + "A" * 64, "lowercase hexadecimal"),
        ("sha256:" + "g" * 64, "lowercase hexadecimal"),
        ("sha256:" + " " + "0" * 63, "lowercase hexadecimal"),
    ],
)
def test_malformed(text: str, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        parse_tagged_sha256(text)


@given(st.text())
def test_parse_raises_only_format_error(text: str) -> None:
    with contextlib.suppress(FormatError):
        assert len(parse_tagged_sha256(text)) == 32


def test_format_requires_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        format_tagged_sha256(bytes(31))
