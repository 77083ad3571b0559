"""Sealing key files: an HPKE public key (shareable, 0644) and its private key (0600)."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path
from typing import Final

from veil._io import read_bounded
from veil.crypto.hpke import (
    SealingPrivateKey,
    SealingPublicKey,
    SealingSuite,
    private_key_size,
    public_key_size,
)
from veil.crypto.keyfiles import (
    PUBLIC_FILE_MODE,
    decode_key_base64,
    encode_key_text,
    parse_key_text,
    write_key_file,
)
from veil.errors import FormatError, OperationError

__all__ = [
    "MAX_SEALING_KEY_FILE_BYTES",
    "PRIVATE_KEY_VERSION_LINE",
    "PUBLIC_KEY_VERSION_LINE",
    "read_sealing_private_key",
    "read_sealing_public_key",
    "sealing_private_key_from_text",
    "sealing_private_key_to_text",
    "sealing_public_key_from_text",
    "sealing_public_key_to_text",
    "write_sealing_key_pair",
    "write_sealing_private_key",
    "write_sealing_public_key",
]

PUBLIC_KEY_VERSION_LINE: Final = "veil-sealing-public-key v1"
PRIVATE_KEY_VERSION_LINE: Final = "veil-sealing-private-key v1"
#: Largest sealing key file read, in bytes: the largest (hybrid public) key is about 1.7 KB
#: of base64, so anything much larger is not a key file.
MAX_SEALING_KEY_FILE_BYTES: Final = 8192
_FIELDS: Final = ("suite", "key")
_PUBLIC: Final = "sealing public key"
_PRIVATE: Final = "sealing private key"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _parse(text: str, *, what: str, version_line: str) -> tuple[SealingSuite, str]:
    suite_text, encoded = parse_key_text(
        text, what=what, version_line=version_line, field_names=_FIELDS
    )
    try:
        suite = SealingSuite(suite_text)
    except ValueError:
        known = ", ".join(suite.value for suite in SealingSuite)
        raise FormatError(f"{what} has an unknown suite (known: {known})") from None
    return suite, encoded


def sealing_public_key_to_text(key: SealingPublicKey) -> str:
    """Text form: version line, suite name, standard padded base64 of the raw key."""
    return encode_key_text(
        PUBLIC_KEY_VERSION_LINE, [("suite", key.suite.value), ("key", _b64(key.to_bytes()))]
    )


def sealing_private_key_to_text(key: SealingPrivateKey) -> str:
    """Text form of the private key: the secret itself; write it only with mode 0600."""
    return encode_key_text(
        PRIVATE_KEY_VERSION_LINE, [("suite", key.suite.value), ("key", _b64(key.to_bytes()))]
    )


def sealing_public_key_from_text(text: str) -> SealingPublicKey:
    """Parse :func:`sealing_public_key_to_text` output; ``FormatError`` naming the problem."""
    suite, encoded = _parse(text, what=_PUBLIC, version_line=PUBLIC_KEY_VERSION_LINE)
    raw = decode_key_base64(encoded, what=_PUBLIC, size=public_key_size(suite))
    return SealingPublicKey.from_bytes(raw, suite=suite)


def sealing_private_key_from_text(text: str) -> SealingPrivateKey:
    """Parse :func:`sealing_private_key_to_text` output; ``FormatError`` naming the problem."""
    suite, encoded = _parse(text, what=_PRIVATE, version_line=PRIVATE_KEY_VERSION_LINE)
    raw = decode_key_base64(encoded, what=_PRIVATE, size=private_key_size(suite))
    return SealingPrivateKey.from_bytes(raw, suite=suite)


def write_sealing_public_key(path: Path, key: SealingPublicKey, *, overwrite: bool = False) -> None:
    """Write a public key file (mode 0644); ``OperationError`` if it exists or fails."""
    data = sealing_public_key_to_text(key).encode("ascii")
    write_key_file(path, data, overwrite=overwrite, mode=PUBLIC_FILE_MODE)


def write_sealing_private_key(
    path: Path, key: SealingPrivateKey, *, overwrite: bool = False
) -> None:
    """Write a private key file (mode 0600 from creation); ``OperationError`` if it exists."""
    write_key_file(path, sealing_private_key_to_text(key).encode("ascii"), overwrite=overwrite)


def write_sealing_key_pair(private_path: Path, public_path: Path, key: SealingPrivateKey) -> None:
    """Write ``key`` to the new file ``private_path`` (0600) and its public key to the new file
    ``public_path`` (0644): both or neither. ``OperationError`` if either exists or fails."""
    if public_path.exists() or public_path.is_symlink():
        # Checked first so a refused run leaves no half-written pair; O_EXCL still guards.
        raise OperationError(f"{public_path} already exists; refusing to overwrite it")
    write_sealing_private_key(private_path, key)
    try:
        write_sealing_public_key(public_path, key.public_key())
    except OperationError:
        # A private key without its public half would be refused next time (it exists) yet
        # could not be shared: remove it, so that the same command can simply be run again.
        with contextlib.suppress(OSError):
            private_path.unlink()
        raise


def _read_text(path: Path, *, what: str, private: bool) -> str:
    data = read_bounded(
        path, max_bytes=MAX_SEALING_KEY_FILE_BYTES, what=f"{what} file", private=private
    )
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise FormatError(f"{what} file {path} is not ASCII text") from None


def read_sealing_public_key(path: Path) -> SealingPublicKey:
    """Read a public key file; ``FormatError`` if malformed, ``OperationError`` if unreadable."""
    text = _read_text(path, what=_PUBLIC, private=False)
    try:
        return sealing_public_key_from_text(text)
    except FormatError as e:
        raise FormatError(f"{path}: {e}") from None


def read_sealing_private_key(path: Path) -> SealingPrivateKey:
    """Read a private key file (warns if group/other can read it); errors as for public."""
    text = _read_text(path, what=_PRIVATE, private=True)
    try:
        return sealing_private_key_from_text(text)
    except FormatError as e:
        raise FormatError(f"{path}: {e}") from None
