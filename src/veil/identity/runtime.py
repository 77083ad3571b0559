"""The veil runtime's identity: its release and a digest of every file it is made of.

Everything here is pure except :func:`runtime_identity`, which reads the installed runtime.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import veil
from veil._io import read_bounded
from veil.crypto.digest import format_tagged_sha256, parse_tagged_sha256
from veil.errors import FormatError, OperationError

__all__ = [
    "MAX_RUNTIME_FILE_BYTES",
    "RuntimeIdentity",
    "digest_runtime_files",
    "runtime_identity",
]

#: Largest single runtime file hashed, in bytes: the runtime is Python source, so anything
#: larger is not part of it and hashing it would only stall start-up.
MAX_RUNTIME_FILE_BYTES: Final = 16 * 1024 * 1024

_RUNTIME_FILES_LABEL: Final = b"veil/runtime-files/v1\x00"
_EXCLUDED_DIRS: Final = frozenset({"__pycache__"})
_EXCLUDED_SUFFIXES: Final = (".pyc", ".pyo")


@dataclass(frozen=True)
class RuntimeIdentity:
    """The veil runtime: its release version and ``sha256:`` digest of its source files."""

    version: str
    digest: str

    def __post_init__(self) -> None:
        if not self.version or not self.version.isascii() or not self.version.isprintable():
            raise FormatError("runtime version must be non-empty printable ASCII")
        if len(self.version) > 64:
            raise FormatError("runtime version is longer than 64 characters")
        parse_tagged_sha256(self.digest)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RuntimeIdentity:
        version, digest = data.get("version"), data.get("digest")
        if not isinstance(version, str) or not isinstance(digest, str):
            raise FormatError("runtime identity needs string 'version' and 'digest'")
        return cls(version=version, digest=digest)

    def to_json(self) -> dict[str, str]:
        return {"version": self.version, "digest": self.digest}


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def digest_runtime_files(files: Iterable[tuple[str, bytes]]) -> str:
    """``sha256:`` over a domain label and every (relative POSIX path, content) pair.

    Pairs are sorted by the UTF-8 bytes of their path, and every path and content is prefixed
    with its 8-byte big-endian length, so the digest does not depend on listing order and no
    two trees share an encoding.
    """
    entries = sorted((path.encode("utf-8"), content) for path, content in files)
    hasher = hashlib.sha256(_RUNTIME_FILES_LABEL)
    previous: bytes | None = None
    for path, content in entries:
        if path == previous:
            raise ValueError(f"duplicate runtime path {path!r}")
        previous = path
        hasher.update(_u64(len(path)) + path + _u64(len(content)))
        hasher.update(content)
    return format_tagged_sha256(hasher.digest())


def _runtime_files(root: Path) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if _EXCLUDED_DIRS.intersection(relative.parts) or path.name.endswith(_EXCLUDED_SUFFIXES):
            continue
        if path.is_symlink():
            raise OperationError(f"runtime file {path} is a symbolic link; refusing to hash it")
        if path.is_dir():
            continue
        if not path.is_file():
            raise OperationError(f"runtime path {path} is not a regular file")
        data = read_bounded(
            path, max_bytes=MAX_RUNTIME_FILE_BYTES, what="runtime file", too_large=OperationError
        )
        files.append((relative.as_posix(), data))
    return files


def runtime_identity(root: Path | None = None, *, version: str | None = None) -> RuntimeIdentity:
    """The identity of the installed veil runtime (or of the package tree at ``root``).

    Hashes every file of the ``veil`` package except ``__pycache__`` and compiled bytecode,
    which Python regenerates and which therefore cannot be part of a reproducible identity.
    """
    package_root = root if root is not None else Path(veil.__file__).resolve().parent
    try:
        files = _runtime_files(package_root)
    except OSError as e:
        raise OperationError(f"cannot read the veil runtime at {package_root}: {e}") from e
    if not files:
        raise OperationError(f"no runtime files found under {package_root}")
    return RuntimeIdentity(version=version or veil.__version__, digest=digest_runtime_files(files))
