from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto.hpke import (
    DEFAULT_SEALING_SUITE,
    SealingPrivateKey,
    SealingPublicKey,
    SealingSuite,
    enc_size,
    hpke_open,
    hpke_seal,
    private_key_size,
    public_key_size,
)
from veil.errors import DecryptionError, FormatError

KEYS = {suite: SealingPrivateKey.generate(suite=suite) for suite in SealingSuite}
OTHER_KEYS = {suite: SealingPrivateKey.generate(suite=suite) for suite in SealingSuite}
SUITES = sorted(SealingSuite)


def test_default_suite_is_post_quantum_hybrid() -> None:
    assert DEFAULT_SEALING_SUITE is SealingSuite.MLKEM768_X25519
    assert SealingPrivateKey.generate().suite is SealingSuite.MLKEM768_X25519


@pytest.mark.parametrize(
    ("suite", "private", "public", "enc"),
    [(SealingSuite.MLKEM768_X25519, 96, 1216, 1120), (SealingSuite.X25519, 32, 32, 32)],
)
def test_sizes(suite: SealingSuite, private: int, public: int, enc: int) -> None:
    key = KEYS[suite]
    assert (private_key_size(suite), public_key_size(suite), enc_size(suite)) == (
        private,
        public,
        enc,
    )
    assert len(key.to_bytes()) == private
    assert len(key.public_key().to_bytes()) == public
    sealed_enc, ciphertext = hpke_seal(key.public_key(), b"abc", info=b"i", aad=b"a")
    assert len(sealed_enc) == enc
    assert len(ciphertext) == 3 + 16


@pytest.mark.parametrize("suite", SUITES)
@given(plaintext=st.binary(max_size=512), info=st.binary(max_size=64), aad=st.binary(max_size=64))
@settings(max_examples=25, deadline=None)
def test_round_trip(suite: SealingSuite, plaintext: bytes, info: bytes, aad: bytes) -> None:
    key = KEYS[suite]
    enc, ciphertext = hpke_seal(key.public_key(), plaintext, info=info, aad=aad)
    assert hpke_open(key, enc, ciphertext, info=info, aad=aad) == plaintext


@pytest.mark.parametrize("suite", SUITES)
def test_key_bytes_round_trip(suite: SealingSuite) -> None:
    key = KEYS[suite]
    again = SealingPrivateKey.from_bytes(key.to_bytes(), suite=suite)
    assert again == key
    assert again.public_key() == key.public_key()
    assert SealingPublicKey.from_bytes(key.public_key().to_bytes(), suite=suite) == (
        key.public_key()
    )
    assert pickle.loads(pickle.dumps(key)) == key  # noqa: S301 - our own bytes
    assert key != OTHER_KEYS[suite]


@pytest.mark.parametrize("suite", SUITES)
def test_private_key_repr_hides_secret(suite: SealingSuite) -> None:
    key = KEYS[suite]
    raw = key.to_bytes()
    for rendered in (repr(key), str(key), f"{key!r}"):
        assert raw.hex() not in rendered
        assert base64.b64encode(raw).decode() not in rendered
        assert suite.value in rendered


def test_keys_are_immutable() -> None:
    key = KEYS[SealingSuite.X25519]
    with pytest.raises(AttributeError):
        key.suite = SealingSuite.MLKEM768_X25519
    with pytest.raises(AttributeError):
        key.public_key().suite = SealingSuite.MLKEM768_X25519


@pytest.mark.parametrize("suite", SUITES)
def test_wrong_sizes_are_format_errors(suite: SealingSuite) -> None:
    with pytest.raises(FormatError, match="sealing private key must be"):
        SealingPrivateKey.from_bytes(bytes(private_key_size(suite) - 1), suite=suite)
    with pytest.raises(FormatError, match="sealing public key must be"):
        SealingPublicKey.from_bytes(bytes(public_key_size(suite) + 1), suite=suite)


def test_invalid_mlkem_public_key_is_format_error() -> None:
    # Coefficients must be < q = 3329 (FIPS 203 modulus check); all-ones bytes break that.
    with pytest.raises(FormatError, match="not a valid key"):
        SealingPublicKey.from_bytes(b"\xff" * 1216, suite=SealingSuite.MLKEM768_X25519)


def _flip(data: bytes, index: int) -> bytes:
    buf = bytearray(data)
    buf[index] ^= 0x80
    return bytes(buf)


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(
    "attack",
    [
        "wrong_info",
        "wrong_aad",
        "aad_moved_into_info",
        "other_recipient",
        "flip_enc_first",
        "flip_enc_last",
        "flip_ciphertext",
        "flip_tag",
        "truncate_ciphertext",
        "truncate_enc",
        "extend_enc",
        "empty_ciphertext",
        "zero_enc",
    ],
)
def test_attacks_raise_decryption_error(suite: SealingSuite, attack: str) -> None:
    key = KEYS[suite]
    info, aad = b"veil/test", b"header"
    enc, ct = hpke_seal(key.public_key(), b"secret payload", info=info, aad=aad)
    recipient = key
    match attack:
        case "wrong_info":
            info = b"veil/tesT"
        case "wrong_aad":
            aad = b"headeR"
        case "aad_moved_into_info":
            info, aad = info + aad, b""
        case "other_recipient":
            recipient = OTHER_KEYS[suite]
        case "flip_enc_first":
            enc = _flip(enc, 0)
        case "flip_enc_last":
            enc = _flip(enc, len(enc) - 1)
        case "flip_ciphertext":
            ct = _flip(ct, 0)
        case "flip_tag":
            ct = _flip(ct, len(ct) - 1)
        case "truncate_ciphertext":
            ct = ct[:-1]
        case "truncate_enc":
            enc = enc[:-1]
        case "extend_enc":
            enc = enc + b"\x00"
        case "empty_ciphertext":
            ct = b""
        case "zero_enc":
            enc = bytes(len(enc))  # X25519: a low-order point, refused by the DH
    with pytest.raises(DecryptionError) as exc:
        hpke_open(recipient, enc, ct, info=info, aad=aad)
    assert str(exc.value) == "decryption failed"


def test_suite_mismatch_is_decryption_error() -> None:
    enc, ct = hpke_seal(KEYS[SealingSuite.MLKEM768_X25519].public_key(), b"x", info=b"", aad=b"")
    with pytest.raises(DecryptionError):
        hpke_open(KEYS[SealingSuite.X25519], enc, ct, info=b"", aad=b"")


# An independent RFC 9180 base-mode opener for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
# AES-256-GCM, written from the RFC with stdlib hmac: proves the documented wire format.
def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, n: int) -> bytes:
    return _expand(prk, struct.pack(">H", n) + b"HPKE-v1" + suite_id + label + info, n)


def _rfc9180_open(sk: x25519.X25519PrivateKey, enc: bytes, ct: bytes, info: bytes) -> bytes:
    kem_id = b"KEM\x00\x20"
    dh = sk.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
    kem_context = enc + sk.public_key().public_bytes_raw()
    eae_prk = _labeled_extract(kem_id, b"", b"eae_prk", dh)
    shared = _labeled_expand(kem_id, eae_prk, b"shared_secret", kem_context, 32)
    hpke_id = b"HPKE\x00\x20\x00\x01\x00\x02"
    psk_id_hash = _labeled_extract(hpke_id, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(hpke_id, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(hpke_id, shared, b"secret", b"")
    key = _labeled_expand(hpke_id, secret, b"key", context, 32)
    nonce = _labeled_expand(hpke_id, secret, b"base_nonce", context, 12)
    return AESGCM(key).decrypt(nonce, ct, b"")


def test_x25519_suite_matches_independent_rfc9180_implementation() -> None:
    key = KEYS[SealingSuite.X25519]
    info, aad = b"veil/some-label", b"some header"
    enc, ct = hpke_seal(key.public_key(), b"interop", info=info, aad=aad)
    hpke_info = struct.pack("<I", len(info)) + info + struct.pack("<I", len(aad)) + aad
    sk = x25519.X25519PrivateKey.from_private_bytes(key.to_bytes())
    assert _rfc9180_open(sk, enc, ct, hpke_info) == b"interop"
