"""Strict JSON decoding for untrusted input: UTF-8 only, no duplicate keys, no NaN/Infinity."""

from __future__ import annotations

import json
from typing import Any, Final

from veil.errors import FormatError, VeilError

__all__ = [
    "LENIENT_KEYS_DECODER",
    "STRICT_DECODER",
    "StrictJsonError",
    "check_members",
    "load_json_object",
    "loads_strict",
]


class StrictJsonError(ValueError):
    """Input that is not strict JSON. Callers wrap it in their own typed format error, naming
    the document or field; the message never quotes values, only positions and key names."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # Two parsers may keep different copies of a duplicated key (one verifies, the other
        # acts on another value): refuse the ambiguity instead of picking one.
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJsonError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not valid JSON")


# Built once: ``json.loads`` with hooks builds a new decoder on every call.
#: Refuses duplicate keys and NaN/Infinity.
STRICT_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_unique_keys, parse_constant=_no_constant
)
#: Refuses NaN/Infinity only: for bytes already checked once by ``STRICT_DECODER`` (hot paths).
LENIENT_KEYS_DECODER: Final = json.JSONDecoder(parse_constant=_no_constant)


def loads_strict(data: bytes | str) -> Any:
    """Decode ``data`` (UTF-8 bytes, or text) as strict JSON, or raise ``StrictJsonError``.

    A byte-order mark, invalid UTF-8, duplicate keys, NaN/Infinity, trailing data and nesting
    deep enough to exhaust the recursion limit are all refused.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StrictJsonError("not UTF-8") from e
    else:
        text = data
    try:
        return STRICT_DECODER.decode(text)
    except StrictJsonError:
        raise
    except (ValueError, RecursionError) as e:
        raise StrictJsonError(f"invalid JSON: {e}") from e


def load_json_object(
    data: bytes, *, max_bytes: int, what: str, error: type[VeilError] = FormatError
) -> dict[str, Any]:
    """Decode untrusted ``data`` as one strict JSON object of at most ``max_bytes``.

    Raises ``error`` (a ``FormatError`` unless the caller names its own), its message starting
    with ``what``, if the data is larger, not strict JSON (see ``loads_strict``) or not an object.
    """
    if len(data) > max_bytes:
        raise error(f"{what}: larger than {max_bytes} bytes")
    try:
        document = loads_strict(data)
    except StrictJsonError as e:
        raise error(f"{what}: not valid JSON ({e})") from e
    if not isinstance(document, dict):
        raise error(f"{what}: not a JSON object")
    return document


def check_members(
    value: object,
    where: str,
    keys: frozenset[str],
    optional: frozenset[str] = frozenset(),
    *,
    error: type[VeilError] = FormatError,
) -> dict[str, Any]:
    """``value`` as a JSON object with every member of ``keys``, and no member outside ``keys``
    and ``optional``; ``error`` naming ``where`` and the first offending member otherwise."""
    if not isinstance(value, dict):
        raise error(f"{where}: must be a JSON object")
    unknown = sorted(set(value) - keys - optional)
    if unknown:
        raise error(f"{where}: unknown member {unknown[0]!r}")
    missing = sorted(keys - set(value))
    if missing:
        raise error(f"{where}: missing member {missing[0]!r}")
    return value
