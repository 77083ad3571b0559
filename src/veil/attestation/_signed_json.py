"""Strict JSON reading, and cutting the exact bytes of a signed member out of a JSON document.

Intel signs the *bytes* of the ``tcbInfo`` / ``enclaveIdentity`` object as served by PCS, so
those bytes must be carried verbatim: re-serialising (even to semantically identical JSON)
breaks the signature. The cutter below finds the member's boundaries with a scanner that
respects strings and escapes, then checks the cut re-parses to the value ``json`` saw.
"""

from __future__ import annotations

from typing import Any

from veil._json import StrictJsonError
from veil._json import loads_strict as _loads_strict

__all__ = ["SignedJsonError", "extract_member_bytes", "loads_strict"]

_WHITESPACE = b" \t\r\n"


class SignedJsonError(StrictJsonError):
    """Malformed JSON (callers wrap it in their typed format error, naming the field)."""


def loads_strict(data: bytes) -> Any:
    """Strict JSON (see ``veil._json``), a leading byte-order mark refused like any other bad
    byte: RFC 8259 section 8.1 forbids one on the wire and none of the real collateral under
    ``tests/vectors`` (PCS responses kept by dcap-qvl, go-tdx-guest, Automata, CoCo) has one,
    so tolerating it would only widen what the signed-bytes cutter must get right."""
    try:
        return _loads_strict(data)
    except StrictJsonError as e:
        raise SignedJsonError(str(e)) from e


def _skip_whitespace(data: bytes, index: int) -> int:
    while index < len(data) and data[index] in _WHITESPACE:
        index += 1
    return index


def _end_of_string(data: bytes, index: int) -> int:
    """``index`` is at an opening quote; return the index just after the closing quote."""
    index = _expect(data, index, b'"')
    while index < len(data):
        byte = data[index]
        if byte == 0x5C:  # backslash: the next byte is escaped, whatever it is
            index += 2
        elif byte == 0x22:
            return index + 1
        else:
            index += 1
    raise SignedJsonError("unterminated string")


def _end_of_value(data: bytes, index: int) -> int:
    if index >= len(data):
        raise SignedJsonError("missing value")
    opener = data[index]
    if opener == 0x22:
        return _end_of_string(data, index)
    if opener in b"{[":
        depth = 0
        while index < len(data):
            byte = data[index]
            if byte == 0x22:
                index = _end_of_string(data, index)
                continue
            if byte in b"{[":
                depth += 1
            elif byte in b"}]":
                depth -= 1
                if depth == 0:
                    return index + 1
            index += 1
        raise SignedJsonError("unterminated object or array")
    while index < len(data) and data[index] not in b",}]" and data[index] not in _WHITESPACE:
        index += 1
    return index


def _expect(data: bytes, index: int, byte: bytes) -> int:
    if data[index : index + 1] != byte:
        raise SignedJsonError(f"expected {byte.decode()!r} at offset {index}")
    return index + 1


def extract_member_bytes(data: bytes, key: str) -> tuple[bytes, dict[str, Any]]:
    """Return the exact bytes of the value of top-level member ``key`` and the parsed document.

    Raises :class:`SignedJsonError` when ``data`` is not a JSON object, lacks ``key``, or the
    cut does not re-parse to the same value.
    """
    document = loads_strict(data)
    if not isinstance(document, dict):
        raise SignedJsonError("the document is not a JSON object")
    if key not in document:
        raise SignedJsonError(f"the document has no {key!r} member")

    index = _skip_whitespace(data, 0)
    index = _skip_whitespace(data, _expect(data, index, b"{"))
    span: tuple[int, int] | None = None
    while data[index : index + 1] != b"}":
        key_end = _end_of_string(data, index)
        member = loads_strict(data[index:key_end])
        index = _skip_whitespace(data, _expect(data, _skip_whitespace(data, key_end), b":"))
        value_end = _end_of_value(data, index)
        if member == key:
            span = (index, value_end)
        index = _skip_whitespace(data, value_end)
        if data[index : index + 1] == b",":
            index = _skip_whitespace(data, index + 1)
    if span is None:
        raise SignedJsonError(f"could not locate the {key!r} member")
    cut = data[span[0] : span[1]]
    if loads_strict(cut) != document[key]:
        raise SignedJsonError(f"the bytes cut for {key!r} do not re-parse to its value")
    return cut, document
