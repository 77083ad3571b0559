from __future__ import annotations

import tarfile

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from veil.package._tar import (
    BLOCK_SIZE,
    MAX_USTAR_NAME_BYTES,
    MAX_USTAR_SIZE,
    _ustar_block,
    encode_member_header,
    ustar_checksum,
)

_COMPONENT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/\\\0"),
    min_size=1,
    max_size=30,
)
_PATHS = st.lists(_COMPONENT, min_size=1, max_size=4).map("/".join)


def _tarfile_header(path: str, *, size: int, executable: bool) -> bytes:
    info = tarfile.TarInfo(path)
    info.size = size
    info.mode = 0o755 if executable else 0o644
    info.mtime = 0
    return info.tobuf(tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict")


@given(_PATHS, st.integers(min_value=0, max_value=MAX_USTAR_SIZE), st.booleans())
def test_ustar_header_is_what_tarfile_writes(path: str, size: int, executable: bool) -> None:
    if len(path.encode()) > MAX_USTAR_NAME_BYTES:
        return  # veil then writes a PAX header of its own form; covered in test_archive
    header = encode_member_header(path, size=size, executable=executable)
    assert header == _tarfile_header(path, size=size, executable=executable)


@given(st.binary(min_size=BLOCK_SIZE, max_size=BLOCK_SIZE))
@example(b"\xff" * BLOCK_SIZE)  # the largest sums, where a modular shortcut would wrap
@example(bytes(BLOCK_SIZE))
def test_checksum_is_the_plain_byte_sum_with_the_field_as_spaces(block: bytes) -> None:
    blanked = block[:148] + b" " * 8 + block[156:]
    assert ustar_checksum(block) == sum(blanked)


def test_oversized_fields_raise_instead_of_truncating() -> None:
    # The precompiled layout would silently cut a long name: it must be refused instead.
    with pytest.raises(ValueError, match="name"):
        _ustar_block(b"x" * (MAX_USTAR_NAME_BYTES + 1), mode=0o644, size=0, typeflag=b"0")
    with pytest.raises(ValueError, match="octal"):
        _ustar_block(b"x", mode=0o644, size=MAX_USTAR_SIZE + 1, typeflag=b"0")
