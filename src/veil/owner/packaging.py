"""Write an app's package (or its plain archive) from a prepared source: ``veil package``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from veil.crypto.keys import CodeKey, read_code_key, write_code_key
from veil.crypto.stream import TAG_SIZE
from veil.errors import ConfigError, OperationError
from veil.package.archive import write_archive
from veil.package.encrypted import PackageHeader, PackageInfo, write_package
from veil.package.fingerprint import compute_fingerprint
from veil.package.source import AppSource

__all__ = [
    "PlainArchive",
    "package_source",
    "plaintext_size",
    "refuse_packaged_output",
    "write_plain_archive",
]


@dataclass(frozen=True, kw_only=True)
class PlainArchive:
    """The plaintext deterministic archive written instead of a package."""

    name: str
    fingerprint: str
    path: Path
    size: int


def refuse_packaged_output(source: AppSource, path: Path, what: str) -> None:
    """``ConfigError`` if ``path`` (the ``what``: output or key file) would be archived."""
    if source.is_packaged(path):
        raise ConfigError(
            f"the {what} {path} would be packaged with the app; write it outside "
            f"{source.root} or add it to 'ignore' in veil.toml"
        )


def package_source(
    source: AppSource,
    output: Path,
    *,
    key_file: Path | None = None,
    key_out: Path | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> PackageInfo:
    """Encrypt ``source`` into ``output`` under the code key in ``key_file``, or under a fresh
    one written to ``key_out`` (exactly one). A fresh key is removed again if packaging fails:
    a key file without its package is a secret with no use."""
    if (key_file is None) == (key_out is None):
        raise TypeError("give exactly one of key_file and key_out")
    refuse_packaged_output(source, output, "output file")
    if key_out is not None:
        refuse_packaged_output(source, key_out, "key file")
        key = CodeKey.generate()
        write_code_key(key_out, key)
    elif key_file is not None:
        refuse_packaged_output(source, key_file, "key file")
        key = read_code_key(key_file)
    try:
        return write_package(source, output, key=key, overwrite=overwrite, on_progress=on_progress)
    except BaseException:
        if key_out is not None:
            with contextlib.suppress(OSError):
                key_out.unlink()
        raise


def write_plain_archive(source: AppSource, output: Path, *, overwrite: bool) -> PlainArchive:
    """Write the plaintext deterministic archive of ``source`` to ``output`` (a tar)."""
    refuse_packaged_output(source, output, "output file")
    try:
        with output.open("wb" if overwrite else "xb") as f:
            digest = write_archive(source.plan, f)
    except OSError as e:
        raise OperationError(f"cannot write {output}: {e.strerror or e}") from e
    fingerprint = compute_fingerprint(
        archive_sha256=digest, security_config=source.security.to_json()
    )
    return PlainArchive(
        name=source.config.name, fingerprint=fingerprint, path=output, size=source.plan.size
    )


def plaintext_size(header: PackageHeader) -> int:
    """The archive size a package decrypts to: its body less one tag per sealed chunk."""
    sealed_chunks = -(-header.body_size // (header.chunk_size + TAG_SIZE))
    return header.body_size - TAG_SIZE * sealed_chunks
