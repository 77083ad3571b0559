"""The shared strict JSON decoder that every parser of untrusted JSON goes through."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil._json import StrictJsonError, load_json_object, loads_strict
from veil.errors import ConfigError, FormatError


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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b" " * 65, "thing: larger than 64 bytes"),
        (b'{"a": 1, "a": 2}', "thing: not valid JSON .*duplicate key 'a'"),
        (b"\xff", "thing: not valid JSON .*not UTF-8"),
        (b"[1]", "thing: not a JSON object"),
    ],
)
def test_load_json_object_refuses_what_is_not_one_small_strict_object(
    data: bytes, message: str
) -> None:
    with pytest.raises(FormatError, match=message):
        load_json_object(data, max_bytes=64, what="thing")


def test_load_json_object_raises_the_callers_error() -> None:
    assert load_json_object(b'{"a": 1}', max_bytes=64, what="thing") == {"a": 1}
    with pytest.raises(ConfigError, match="thing: not a JSON object"):
        load_json_object(b"1", max_bytes=64, what="thing", error=ConfigError)


def test_check_members_names_the_first_unknown_or_missing_member() -> None:
    from veil._json import check_members

    keys = frozenset({"a", "b"})
    assert check_members({"a": 1, "b": 2, "c": 3}, "doc", keys, frozenset({"c"})) == {
        "a": 1,
        "b": 2,
        "c": 3,
    }
    with pytest.raises(FormatError, match="doc: unknown member 'z'"):
        check_members({"a": 1, "b": 2, "z": 0}, "doc", keys)
    with pytest.raises(FormatError, match="doc: missing member 'b'"):
        check_members({"a": 1}, "doc", keys)
    with pytest.raises(ConfigError, match="doc: must be a JSON object"):
        check_members([], "doc", keys, error=ConfigError)
