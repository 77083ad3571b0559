"""Strict CBOR decoding for evidence extensions: one item, no trailing bytes, no duplicates."""

from __future__ import annotations

import io
from typing import Final

import cbor2

from veil.ratls.errors import RatlsFormatError

__all__ = ["MAX_CBOR_DEPTH", "strict_loads"]

#: Deepest nesting accepted; veil's and Gramine's structures are at most 3 levels deep.
MAX_CBOR_DEPTH: Final = 8


def strict_loads(data: bytes, what: str) -> object:
    """Decode exactly one definite-length CBOR item; ``RatlsFormatError`` otherwise."""
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            allow_duplicate_keys=False,
            allow_indefinite=False,
            max_depth=MAX_CBOR_DEPTH,
        )
        item = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as e:
        raise RatlsFormatError(f"{what} is not valid CBOR: {e}") from e
    if stream.tell() != len(data):
        raise RatlsFormatError(f"{what} has {len(data) - stream.tell()} trailing bytes")
    return item
