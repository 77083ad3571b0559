from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.crypto import stream
from veil.crypto.kdf import MIN_SALT_SIZE, derive_stream_key

CODE_KEY = bytes(range(32))
SALT = bytes(16)


def test_is_hkdf_sha256() -> None:
    expected = HKDF(algorithm=SHA256(), length=32, salt=SALT, info=b"label").derive(CODE_KEY)
    assert derive_stream_key(CODE_KEY, salt=SALT, info=b"label") == expected


def test_matches_rfc5869_with_stdlib_hmac() -> None:
    # Independent HKDF (RFC 5869 section 2): extract, then one expand block for 32 bytes.
    prk = hmac.new(SALT, CODE_KEY, hashlib.sha256).digest()
    okm = hmac.new(prk, b"veil/test" + b"\x01", hashlib.sha256).digest()
    assert derive_stream_key(CODE_KEY, salt=SALT, info=b"veil/test") == okm
    assert okm.hex() == "77c370a5dd7da8df84c43eb068fcb2d92720cac9490b854697536294092a4460"


def test_salt_and_info_separate_keys() -> None:
    base = derive_stream_key(CODE_KEY, salt=SALT, info=b"a")
    assert derive_stream_key(CODE_KEY, salt=b"\x01" * 16, info=b"a") != base
    assert derive_stream_key(CODE_KEY, salt=SALT, info=b"b") != base
    assert stream.derive_stream_key is derive_stream_key


def test_refuses_short_salt_and_bad_key() -> None:
    with pytest.raises(ValueError, match="salt"):
        derive_stream_key(CODE_KEY, salt=bytes(MIN_SALT_SIZE - 1), info=b"a")
    with pytest.raises(ValueError, match="32 bytes"):
        derive_stream_key(bytes(31), salt=SALT, info=b"a")
