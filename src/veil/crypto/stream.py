"""STREAM chunked authenticated encryption (AES-256-GCM) for inputs of any size.

The construction is the STREAM online AE of Hoang, Reyhanitabar, Rogaway and Vizár ("Online
Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015), as used by
``age``: the plaintext is cut into chunks of ``chunk_size`` bytes, and each chunk is sealed on
its own with AES-256-GCM under a 96-bit nonce that encodes the chunk's position and whether it is
the last chunk::

    nonce = counter (11 bytes, big-endian, from 0) || last flag (1 byte: 0x01 last, else 0x00)

Every chunk carries the caller's ``aad`` (a digest of the authenticated header). The ciphertext
is the concatenation of ``ciphertext || tag`` of every chunk: each chunk but the last holds
exactly ``chunk_size`` plaintext bytes, the last holds 0 to ``chunk_size`` bytes, and it is empty
only when the whole plaintext is empty. Reordering, dropping, duplicating or truncating chunks,
dropping the final chunk, appending data, or a wrong key or ``aad`` all fail authentication.

A key must never encrypt two streams with the same ``aad`` (the chunk nonces would repeat):
derive a fresh key per stream with :func:`veil.crypto.kdf.derive_stream_key` and a random salt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil.crypto.kdf import derive_stream_key
from veil.errors import DecryptionError, FormatError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "KEY_SIZE",
    "MAX_CHUNK_SIZE",
    "MIN_CHUNK_SIZE",
    "TAG_SIZE",
    "ciphertext_size",
    "decrypt_stream",
    "derive_stream_key",
    "encrypt_stream",
]

#: AES-256 key length in bytes.
KEY_SIZE: Final = 32
#: AES-GCM authentication tag appended to every chunk, in bytes.
TAG_SIZE: Final = 16
#: Plaintext bytes per chunk. 256 KiB: larger chunks gave no measurable speed-up with
#: cryptography's AES-GCM on x86-64, smaller ones start to pay per-call overhead.
DEFAULT_CHUNK_SIZE: Final = 256 * 1024
#: Smallest accepted chunk, in bytes: below one AES block the 16-byte tag dominates and a
#: hostile header could make decryption slow for nothing.
MIN_CHUNK_SIZE: Final = 16
#: Largest accepted chunk, in bytes: the decryptor holds three chunk buffers, so this bounds
#: its memory (about 3 × 4 MiB) whatever ``chunk_size`` an untrusted header declares.
MAX_CHUNK_SIZE: Final = 4 * 1024 * 1024

_COUNTER_SIZE: Final = 11
_MAX_CHUNKS: Final = 1 << (8 * _COUNTER_SIZE)
_LAST: Final = b"\x01"
_NOT_LAST: Final = b"\x00"

ProgressCallback = Callable[[int], None]


def _nonce(index: int, *, last: bool) -> bytes:
    if index >= _MAX_CHUNKS:
        # 2**88 chunks cannot happen in practice, but a repeated nonce must be impossible.
        raise OverflowError("STREAM chunk counter exhausted")
    return index.to_bytes(_COUNTER_SIZE, "big") + (_LAST if last else _NOT_LAST)


def _read_full(src: BinaryIO, buf: memoryview) -> int:
    """Fill ``buf`` from ``src`` until it is full or ``src`` is exhausted; return bytes read.

    Loops because pipes and sockets return short reads before their end.
    """
    readinto = getattr(src, "readinto", None)
    filled = 0
    size = len(buf)
    while filled < size:
        if readinto is not None:
            got = readinto(buf[filled:])
        else:
            data = src.read(size - filled)
            got = len(data)
            buf[filled : filled + got] = data
        if not got:
            break
        filled += got
    return filled


def _check_key(key: bytes) -> AESGCM:
    if len(key) != KEY_SIZE:
        raise ValueError(f"stream key must be {KEY_SIZE} bytes, got {len(key)}")
    return AESGCM(key)


def ciphertext_size(plaintext_size: int, *, chunk_size: int) -> int:
    """Exact size of the STREAM ciphertext of ``plaintext_size`` bytes."""
    if plaintext_size < 0:
        raise ValueError("plaintext_size must not be negative")
    chunks = max(1, -(-plaintext_size // chunk_size))
    return plaintext_size + chunks * TAG_SIZE


def encrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    key: bytes,
    aad: bytes,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Encrypt everything readable from ``src`` onto ``dst``; return the plaintext byte count.

    ``on_progress`` is called after each chunk with the number of plaintext bytes in that chunk
    (an increment, suitable for ``Progress.advance``). Memory use is three chunk buffers.
    """
    aead = _check_key(key)
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be within [{MIN_CHUNK_SIZE}, {MAX_CHUNK_SIZE}]")
    current = memoryview(bytearray(chunk_size))
    upcoming = memoryview(bytearray(chunk_size))
    out = memoryview(bytearray(chunk_size + TAG_SIZE))

    total = 0
    index = 0
    filled = _read_full(src, current)
    while True:
        # A short read means end of input; a full chunk is last only if nothing follows it.
        upcoming_filled = _read_full(src, upcoming) if filled == chunk_size else 0
        last = upcoming_filled == 0
        aead.encrypt_into(_nonce(index, last=last), current[:filled], aad, out[: filled + TAG_SIZE])
        dst.write(out[: filled + TAG_SIZE])
        total += filled
        if on_progress is not None:
            on_progress(filled)
        if last:
            return total
        current, upcoming = upcoming, current
        filled = upcoming_filled
        index += 1


def decrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    key: bytes,
    aad: bytes,
    chunk_size: int,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Decrypt a STREAM ciphertext from ``src`` onto ``dst``; return the plaintext byte count.

    ``chunk_size`` must be the value used to encrypt (it usually comes from an authenticated
    header); a value outside [``MIN_CHUNK_SIZE``, ``MAX_CHUNK_SIZE``] raises ``FormatError``.
    Any failure to authenticate, including truncation, reordering, a missing final chunk or
    trailing bytes, raises the opaque ``DecryptionError``.

    Chunks are written to ``dst`` as soon as each one authenticates, so when this raises,
    ``dst`` may already hold a *prefix* of the plaintext: the caller must discard ``dst`` on
    error (for example decrypt into a temporary file and delete it). ``on_progress`` gets the
    plaintext bytes of each authenticated chunk. Memory use is three chunk buffers.
    """
    aead = _check_key(key)
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise FormatError(
            f"stream chunk size {chunk_size} is outside [{MIN_CHUNK_SIZE}, {MAX_CHUNK_SIZE}]"
        )
    sealed_size = chunk_size + TAG_SIZE
    current = memoryview(bytearray(sealed_size))
    upcoming = memoryview(bytearray(sealed_size))
    out = memoryview(bytearray(chunk_size))

    total = 0
    index = 0
    filled = _read_full(src, current)
    while True:
        upcoming_filled = _read_full(src, upcoming) if filled == sealed_size else 0
        last = upcoming_filled == 0
        if filled < TAG_SIZE or (last and filled == TAG_SIZE and index > 0):
            # Too short to hold a tag, or an empty final chunk after full ones (the encryptor
            # never writes that): refuse without telling which.
            raise DecryptionError
        plain_size = filled - TAG_SIZE
        try:
            aead.decrypt_into(_nonce(index, last=last), current[:filled], aad, out[:plain_size])
        except InvalidTag:
            raise DecryptionError from None
        dst.write(out[:plain_size])
        total += plain_size
        if on_progress is not None:
            on_progress(plain_size)
        if last:
            return total
        current, upcoming = upcoming, current
        filled = upcoming_filled
        index += 1
