from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import logging
import os
import pickle
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto.keys import (
    CODE_KEY_VERSION_LINE,
    MAX_CODE_KEY_FILE_BYTES,
    CodeKey,
    read_code_key,
    write_code_key,
)
from veil.errors import FormatError, OperationError

SECRET = bytes(range(32))
SECRET_B64 = base64.b64encode(SECRET).decode()


def test_key_id_is_one_way_and_documented() -> None:
    key = CodeKey(SECRET)
    digest = hashlib.sha256(b"veil/code-key-id/v1\x00" + SECRET).digest()
    assert key.key_id == "k1_" + digest[:16].hex()
    assert SECRET.hex() not in key.key_id


def test_generate_is_random() -> None:
    a, b = CodeKey.generate(), CodeKey.generate()
    assert a != b
    assert a.key_id != b.key_id
    assert len(a.secret_bytes()) == 32


def test_text_round_trip_and_layout() -> None:
    key = CodeKey(SECRET)
    text = key.to_text()
    assert text == f"{CODE_KEY_VERSION_LINE}\nkey-id: {key.key_id}\nkey: {SECRET_B64}\n"
    assert CodeKey.from_text(text) == key
    assert CodeKey.from_text(text.replace("\n", "\r\n")) == key


def test_secret_never_in_repr_or_str() -> None:
    key = CodeKey(SECRET)
    for rendered in (repr(key), str(key), f"{key}", repr([key])):
        assert SECRET_B64 not in rendered
        assert SECRET.hex() not in rendered
        assert key.key_id in rendered


def test_immutable_and_not_a_dataclass() -> None:
    key = CodeKey(SECRET)
    with pytest.raises(AttributeError):
        key.key_id = "k1_x"
    with pytest.raises(AttributeError):
        key._secret = bytes(32)
    assert not dataclasses.is_dataclass(key)
    assert pickle.loads(pickle.dumps(key)) == key  # noqa: S301 - our own bytes
    assert hash(key) == hash(CodeKey(SECRET))


def test_constructor_refuses_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CodeKey(bytes(31))
    with pytest.raises(FormatError, match="32 bytes"):
        CodeKey.from_bytes(bytes(33))
    assert CodeKey.from_bytes(SECRET) == CodeKey(SECRET)


GOOD = CodeKey(SECRET).to_text()
GOOD_ID = CodeKey(SECRET).key_id
OTHER_ID = CodeKey(bytes(32)).key_id


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "must start with the line"),
        ("veil-code-key v2\n" + GOOD.split("\n", 1)[1], "must start with the line"),
        (GOOD + "extra: 1\n", "exactly 3 lines"),
        ("\n".join(GOOD.split("\n")[:2]), "exactly 3 lines"),
        (GOOD.replace("key-id: ", "keyid: "), "line 2 must start"),
        (GOOD.replace("key: ", "secret: "), "line 3 must start"),
        (GOOD.replace(SECRET_B64, SECRET_B64[:-1]), "not valid base64"),
        (GOOD.replace(SECRET_B64, SECRET_B64 + "$"), "not valid base64"),
        (GOOD.replace(SECRET_B64, "é" * 44), "not valid base64"),
        (GOOD.replace(SECRET_B64, base64.b64encode(bytes(31)).decode()), "decode to 32 bytes"),
        (GOOD.replace(SECRET_B64, SECRET_B64[:-2] + "9="), "canonical"),
        (GOOD.replace(GOOD_ID, OTHER_ID), "does not match the key"),
        (GOOD.replace(GOOD_ID, GOOD_ID.upper()), "does not match the key"),
    ],
)
def test_malformed_text_names_the_problem(text: str, problem: str) -> None:
    with pytest.raises(FormatError, match=problem) as exc:
        CodeKey.from_text(text)
    assert SECRET_B64 not in str(exc.value)


@given(st.text(max_size=300))
def test_from_text_raises_only_format_error(text: str) -> None:
    with contextlib.suppress(FormatError):
        CodeKey.from_text(text)


def test_write_creates_0600_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "veil.key"
    key = CodeKey.generate()
    old = os.umask(0)  # even a permissive umask must not loosen the mode
    try:
        write_code_key(path, key)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_code_key(path) == key


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "veil.key"
    first = CodeKey.generate()
    write_code_key(path, first)
    with pytest.raises(OperationError, match="already exists"):
        write_code_key(path, CodeKey.generate())
    assert read_code_key(path) == first


def test_write_refuses_existing_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "veil.key").symlink_to(target)
    with pytest.raises(OperationError, match="already exists"):
        write_code_key(tmp_path / "veil.key", CodeKey.generate())
    assert not target.exists()


def test_overwrite_replaces_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "veil.key"
    path.write_text("old")
    path.chmod(0o644)
    key = CodeKey.generate()
    write_code_key(path, key, overwrite=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_code_key(path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["veil.key"]


def test_write_into_missing_directory_is_operation_error(tmp_path: Path) -> None:
    with pytest.raises(OperationError, match="cannot write"):
        write_code_key(tmp_path / "missing" / "veil.key", CodeKey.generate())


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OperationError, match="cannot read"):
        read_code_key(tmp_path / "nope.key")


def test_read_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises((FormatError, OperationError)):
        read_code_key(tmp_path)


def test_read_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "big.key"
    path.write_bytes(GOOD.encode() + b"\n" * MAX_CODE_KEY_FILE_BYTES)
    path.chmod(0o600)
    with pytest.raises(FormatError, match="larger than"):
        read_code_key(path)


def test_read_non_ascii_and_malformed_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(b"\xff\xfe")
    path.chmod(0o600)
    with pytest.raises(FormatError, match="not ASCII"):
        read_code_key(path)
    path.write_text(GOOD.replace(GOOD_ID, OTHER_ID))
    with pytest.raises(FormatError, match=r"bad\.key: code key id does not match"):
        read_code_key(path)


def test_group_readable_file_is_read_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "veil.key"
    key = CodeKey.generate()
    write_code_key(path, key)
    with caplog.at_level(logging.WARNING):
        assert read_code_key(path) == key
    assert not caplog.records
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert read_code_key(path) == key
    assert "accessible by group or others" in caplog.text
    assert base64.b64encode(key.secret_bytes()).decode() not in caplog.text
