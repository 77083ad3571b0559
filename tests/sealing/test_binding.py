from __future__ import annotations

import contextlib
import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.errors import FormatError
from veil.sealing.binding import (
    INSTANCE_BINDING_LABEL,
    INSTANCE_BINDING_SIZE,
    MAX_BOUND_KEY_BYTES,
    format_instance_binding,
    instance_binding,
    parse_instance_id,
)

INSTANCE = "0123456789abcdef0123456789abcdef"
SPKI = b"\x30\x59" + b"\x01" * 89
SEALING = b"\x02" * 1216


def test_binding_is_the_documented_digest() -> None:
    expected = hashlib.sha256(
        INSTANCE_BINDING_LABEL
        + bytes.fromhex(INSTANCE)
        + struct.pack("<I", len(SPKI))
        + SPKI
        + struct.pack("<I", len(SEALING))
        + SEALING
    ).digest()
    binding = instance_binding(
        instance_id=INSTANCE, tls_public_key_der=SPKI, sealing_public_key=SEALING
    )
    assert binding == expected
    assert len(binding) == INSTANCE_BINDING_SIZE
    assert format_instance_binding(binding) == expected.hex()


def test_every_input_changes_the_binding() -> None:
    base = instance_binding(
        instance_id=INSTANCE, tls_public_key_der=SPKI, sealing_public_key=SEALING
    )
    others = [
        instance_binding(instance_id="f" * 32, tls_public_key_der=SPKI, sealing_public_key=SEALING),
        instance_binding(
            instance_id=INSTANCE, tls_public_key_der=SPKI + b"\x00", sealing_public_key=SEALING
        ),
        instance_binding(
            instance_id=INSTANCE, tls_public_key_der=SPKI, sealing_public_key=SEALING[:-1]
        ),
        # Moving a byte from one field to the next must not collide (length prefixes).
        instance_binding(
            instance_id=INSTANCE,
            tls_public_key_der=SPKI + SEALING[:1],
            sealing_public_key=SEALING[1:],
        ),
    ]
    assert base not in others
    assert len(set(others)) == len(others)


@pytest.mark.parametrize(
    "instance_id", ["", "0" * 31, "0" * 33, "0123456789ABCDEF0123456789ABCDEF", "g" * 32]
)
def test_malformed_instance_ids_are_refused(instance_id: str) -> None:
    with pytest.raises(FormatError, match="instance id"):
        parse_instance_id(instance_id)


def test_empty_or_huge_keys_are_refused() -> None:
    with pytest.raises(FormatError, match="empty"):
        instance_binding(instance_id=INSTANCE, tls_public_key_der=b"", sealing_public_key=SEALING)
    with pytest.raises(FormatError, match="larger"):
        instance_binding(
            instance_id=INSTANCE,
            tls_public_key_der=SPKI,
            sealing_public_key=b"\x00" * (MAX_BOUND_KEY_BYTES + 1),
        )


def test_format_refuses_wrong_sizes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        format_instance_binding(b"\x00" * 31)


@given(st.text(max_size=40))
def test_parse_instance_id_raises_only_format_error(text: str) -> None:
    with contextlib.suppress(FormatError):
        assert len(parse_instance_id(text)) == 16
