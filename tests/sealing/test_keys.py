from __future__ import annotations

import base64
import contextlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto.hpke import SealingPrivateKey, SealingSuite
from veil.errors import FormatError, OperationError
from veil.sealing.keys import (
    MAX_SEALING_KEY_FILE_BYTES,
    read_sealing_private_key,
    read_sealing_public_key,
    sealing_private_key_from_text,
    sealing_private_key_to_text,
    sealing_public_key_from_text,
    sealing_public_key_to_text,
    write_sealing_key_pair,
    write_sealing_private_key,
    write_sealing_public_key,
)

KEYS = {suite: SealingPrivateKey.generate(suite=suite) for suite in SealingSuite}
SUITES = sorted(SealingSuite)


@pytest.mark.parametrize("suite", SUITES)
def test_text_round_trip_and_layout(suite: SealingSuite) -> None:
    key = KEYS[suite]
    public_text = sealing_public_key_to_text(key.public_key())
    private_text = sealing_private_key_to_text(key)
    assert public_text.splitlines() == [
        "veil-sealing-public-key v1",
        f"suite: {suite.value}",
        "key: " + base64.b64encode(key.public_key().to_bytes()).decode(),
    ]
    assert private_text.splitlines()[:2] == ["veil-sealing-private-key v1", f"suite: {suite.value}"]
    assert sealing_public_key_from_text(public_text) == key.public_key()
    assert sealing_private_key_from_text(private_text) == key


@pytest.mark.parametrize("suite", SUITES)
def test_files_modes_and_round_trip(tmp_path: Path, suite: SealingSuite) -> None:
    key = KEYS[suite]
    private_path, public_path = tmp_path / "seal.key", tmp_path / "seal.key.pub"
    write_sealing_private_key(private_path, key)
    write_sealing_public_key(public_path, key.public_key())
    assert stat.S_IMODE(os.stat(private_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(public_path).st_mode) == 0o644
    assert read_sealing_private_key(private_path) == key
    assert read_sealing_public_key(public_path) == key.public_key()


def test_files_refuse_overwrite(tmp_path: Path) -> None:
    key = KEYS[SealingSuite.X25519]
    path = tmp_path / "seal.key"
    write_sealing_private_key(path, key)
    with pytest.raises(OperationError, match="already exists"):
        write_sealing_private_key(path, KEYS[SealingSuite.MLKEM768_X25519])
    with pytest.raises(OperationError, match="already exists"):
        write_sealing_public_key(path, key.public_key())
    assert read_sealing_private_key(path) == key


PUBLIC = sealing_public_key_to_text(KEYS[SealingSuite.X25519].public_key())
PRIVATE = sealing_private_key_to_text(KEYS[SealingSuite.X25519])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "must start with the line 'veil-sealing-public-key v1'"),
        (PRIVATE, "must start with the line 'veil-sealing-public-key v1'"),
        (PUBLIC.replace("suite: x25519", "suite: p256"), "unknown suite"),
        (PUBLIC.replace("suite: x25519", "suite: mlkem768-x25519"), "must decode to 1216 bytes"),
        (PUBLIC.replace("suite: ", "cipher: "), "line 2 must start with 'suite: '"),
        (PUBLIC + "more\n", "exactly 3 lines"),
        (PUBLIC.replace("key: ", "key: %"), "not valid base64"),
    ],
)
def test_malformed_public_key_text(text: str, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        sealing_public_key_from_text(text)


def test_malformed_private_key_text_never_echoes_the_key() -> None:
    encoded = PRIVATE.splitlines()[2].removeprefix("key: ")
    bad = PRIVATE.replace("suite: x25519", "suite: mlkem768-x25519")
    with pytest.raises(FormatError, match="must decode to 96 bytes") as exc:
        sealing_private_key_from_text(bad)
    assert encoded not in str(exc.value)


def test_read_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pub.key"
    path.write_text(PUBLIC.replace("suite: x25519", "suite: nope"))
    with pytest.raises(FormatError, match=r"pub\.key: sealing public key has an unknown suite"):
        read_sealing_public_key(path)
    path.write_bytes(b"\x80")
    with pytest.raises(FormatError, match="not ASCII"):
        read_sealing_public_key(path)
    path.write_bytes(b"x" * (MAX_SEALING_KEY_FILE_BYTES + 1))
    with pytest.raises(FormatError, match="larger than"):
        read_sealing_public_key(path)
    with pytest.raises(OperationError, match="cannot read"):
        read_sealing_private_key(tmp_path / "missing")


@given(st.text(max_size=300))
def test_parsers_raise_only_format_error(text: str) -> None:
    with contextlib.suppress(FormatError):
        sealing_public_key_from_text(text)
    with contextlib.suppress(FormatError):
        sealing_private_key_from_text(text)


def test_a_key_pair_is_written_both_or_neither(tmp_path: Path) -> None:
    key = KEYS[SealingSuite.MLKEM768_X25519]
    private, public = tmp_path / "seal.key", tmp_path / "seal.key.pub"
    write_sealing_key_pair(private, public, key)
    assert read_sealing_private_key(private).to_bytes() == key.to_bytes()
    assert read_sealing_public_key(public).to_bytes() == key.public_key().to_bytes()


def test_an_existing_public_key_is_refused_before_the_private_is_written(tmp_path: Path) -> None:
    private, public = tmp_path / "seal.key", tmp_path / "seal.key.pub"
    public.write_text("someone else's key")
    with pytest.raises(OperationError, match="already exists"):
        write_sealing_key_pair(private, public, KEYS[SUITES[0]])
    assert not private.exists()
    assert public.read_text() == "someone else's key"


def test_a_failed_public_key_removes_the_private_one(tmp_path: Path) -> None:
    private, public = tmp_path / "seal.key", tmp_path / "missing-dir" / "seal.key.pub"
    with pytest.raises(OperationError):
        write_sealing_key_pair(private, public, KEYS[SUITES[0]])
    assert not private.exists()
