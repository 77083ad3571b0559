"""The shared strict JSON decoder that every parser of untrusted JSON goes through."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil._json import StrictJsonError, loads_strict


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"outer": {"k": 1, "k": 1}}', "duplicate key 'k'"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b"[Infinity]", "Infinity is not valid JSON"),
        (b"[-Infinity]", "-Infinity is not valid JSON"),
        (b"\xef\xbb\xbf{}", "invalid JSON"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": 1} x', "invalid JSON"),
        (b"", "invalid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid JSON"),
    ],
    ids=["dup", "nested-dup", "nan", "inf", "-inf", "bom", "utf8", "trailing", "empty", "deep"],
)
def test_refused(data: bytes, message: str) -> None:
    with pytest.raises(StrictJsonError, match=message):
        loads_strict(data)


def test_accepts_what_json_accepts() -> None:
    text = '{"a": [1, 2.5, "x", null, true, {"b": {}}], "c": "\\u00e9"}'
    assert loads_strict(text.encode()) == json.loads(text)
    assert loads_strict(text) == json.loads(text)


@given(st.binary(max_size=200))
def test_any_bytes_raise_only_the_typed_error(data: bytes) -> None:
    with contextlib.suppress(StrictJsonError):
        loads_strict(data)
