"""Typed, strict access to the fields of Intel's signed TCB info and QE identity JSON."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from veil._json import LENIENT_KEYS_DECODER, STRICT_DECODER, StrictJsonError
from veil.attestation.errors import CollateralFormatError
from veil.attestation.result import TcbStatus

__all__ = [
    "MAX_ADVISORY_IDS",
    "MAX_TCB_LEVELS",
    "Fields",
    "load_object",
]

#: Real TCB infos have ≤ 20 levels; bounds the matching loop on hostile input.
MAX_TCB_LEVELS = 256
#: Real levels list ≤ 40 advisories.
MAX_ADVISORY_IDS = 512

# Intel writes UTC instants as "2025-06-19T10:56:11Z" (RFC 3339, seconds, "Z").
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_STATUSES = {status.value: status for status in TcbStatus}
_SVN = operator.itemgetter("svn")


def load_object(data: bytes, what: str, *, duplicate_keys_checked: bool = False) -> Fields:
    """Parse signed JSON bytes that must hold one object (UTF-8, no duplicate keys, no NaN).

    ``duplicate_keys_checked`` says the caller already parsed these exact bytes with
    ``_signed_json.loads_strict`` (every ``Collateral`` does at construction), so the per-object
    duplicate check, the slowest part for a TCB info of hundreds of small objects, is skipped.
    """
    decoder = LENIENT_KEYS_DECODER if duplicate_keys_checked else STRICT_DECODER
    try:
        text = data.decode("utf-8")
        if text.startswith("\ufeff"):  # as json.loads does
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = decoder.decode(text)
    except (StrictJsonError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CollateralFormatError(f"{what}: invalid JSON: {e}") from e
    return Fields.of(value, what)


#: Where a Fields object sits, formatted only when an error names it: a path, (parent, key)
#: for a member object, or (parent path, key, index) for a list item. Parsing a TCB info builds
#: hundreds of these.
_Location = str | tuple["Fields", str] | tuple[str, str, int]


class Fields:
    """A JSON object with typed getters; every miss or wrong type is a CollateralFormatError."""

    __slots__ = ("_location", "_values")

    def __init__(self, values: Mapping[str, Any], where: _Location) -> None:
        self._values = values
        self._location = where

    @property
    def _where(self) -> str:
        location = self._location
        if isinstance(location, str):
            return location
        if len(location) == 2:
            return f"{location[0]._where}.{location[1]}"
        return f"{location[0]}.{location[1]}[{location[2]}]"

    @classmethod
    def of(cls, value: object, where: _Location) -> Fields:
        if not isinstance(value, dict):
            raise CollateralFormatError(f"{cls({}, where)._where}: expected a JSON object")
        return cls(value, where)

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def _get(self, key: str) -> object:
        try:
            return self._values[key]
        except KeyError:
            raise CollateralFormatError(f"{self._where}: missing {key!r}") from None

    def int_(self, key: str, *, maximum: int) -> int:
        value = self._get(key)
        # Exactly int: bool is an int in Python, and JSON true is not a number.
        if type(value) is not int or not 0 <= value <= maximum:
            raise CollateralFormatError(f"{self._where}: {key!r} must be an integer 0..{maximum}")
        return value

    def str_(self, key: str) -> str:
        value = self._get(key)
        if type(value) is not str:
            raise CollateralFormatError(f"{self._where}: {key!r} must be a string")
        return value

    def hex_(self, key: str, *, size: int) -> bytes:
        text = self.str_(key)
        if len(text) != 2 * size or not _HEX.fullmatch(text):
            raise CollateralFormatError(f"{self._where}: {key!r} must be {size} bytes of hex")
        return bytes.fromhex(text)

    def instant(self, key: str) -> datetime:
        text = self.str_(key)
        if not _INSTANT.fullmatch(text):
            raise CollateralFormatError(f"{self._where}: {key!r} is not a UTC RFC 3339 instant")
        try:
            # The pattern ends in "Z", which fromisoformat reads as UTC.
            return datetime.fromisoformat(text)
        except ValueError as e:
            raise CollateralFormatError(f"{self._where}: {key!r} is not a valid date") from e

    def status(
        self, key: str, *, allowed: Collection[TcbStatus] | None = None, of: str = ""
    ) -> TcbStatus:
        """A TCB status; ``allowed`` narrows it to those ``of`` (e.g. a QE identity) defines."""
        text = self.str_(key)
        status = _STATUSES.get(text)
        if status is None:
            raise CollateralFormatError(f"{self._where}: unknown TCB status {text!r}")
        if allowed is not None and status not in allowed:
            names = ", ".join(s.value for s in allowed)
            raise CollateralFormatError(
                f"{self._where}: TCB status {text!r} is not a {of} status ({names})"
            )
        return status

    def object_(self, key: str) -> Fields:
        return Fields.of(self._get(key), (self, key))

    def objects(self, key: str, *, maximum: int, default_empty: bool = False) -> list[Fields]:
        if default_empty and key not in self._values:
            return []
        value = self._get(key)
        if not isinstance(value, list) or len(value) > maximum:
            raise CollateralFormatError(
                f"{self._where}: {key!r} must be a list of at most {maximum} objects"
            )
        where = self._where
        return [Fields.of(item, (where, key, i)) for i, item in enumerate(value)]

    def svns(self, key: str, *, count: int) -> bytes:
        """A list of exactly ``count`` ``{"svn": 0..255, …}`` objects, as bytes."""
        value = self._get(key)
        if isinstance(value, list) and len(value) == count:
            try:
                svns = list(map(_SVN, value))
                if set(map(type, svns)) == {int}:  # no bool, float or str
                    return bytes(svns)
            except (TypeError, KeyError, ValueError):
                pass
        raise CollateralFormatError(
            f"{self._where}: {key!r} must list {count} objects with an 'svn' of 0..255"
        )

    def strings(self, key: str, *, maximum: int) -> tuple[str, ...]:
        """An optional list of strings (absent = empty), e.g. ``advisoryIDs``."""
        if key not in self._values:
            return ()
        value = self._values[key]
        if (
            not isinstance(value, list)
            or len(value) > maximum
            or not all(isinstance(item, str) for item in value)
        ):
            raise CollateralFormatError(f"{self._where}: {key!r} must be a list of strings")
        return tuple(value)
