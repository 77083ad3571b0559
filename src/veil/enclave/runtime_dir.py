"""The node's private runtime directory: where decrypted app code lives while the node runs."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from veil.errors import OperationError

__all__ = [
    "RUNTIME_DIR_PREFIX",
    "RuntimeDir",
    "remove_stale_runtime_dirs",
    "runtime_base",
    "runtime_dir_prefix",
]

RUNTIME_DIR_PREFIX: Final = "veil-rt-"
#: Memory-backed on Linux: decrypted code never reaches a disk. Inside a TEE the whole file
#: system is enclave memory (Gramine) or an encrypted guest (TDX/SNP) anyway.
_SHM: Final = Path("/dev/shm")  # noqa: S108 - only used through a 0700 mkdtemp
_NODE_TAG_HEX: Final = 16


def runtime_base() -> Path:
    """``/dev/shm`` when it is a writable directory, else the system temporary directory."""
    if _SHM.is_dir() and os.access(_SHM, os.W_OK | os.X_OK):
        return _SHM
    return Path(tempfile.gettempdir())


def runtime_dir_prefix(node_dir: Path) -> str:
    """Name prefix of every runtime directory of one node (so a restart finds stale ones)."""
    tag = hashlib.sha256(os.fsencode(node_dir.resolve())).hexdigest()[:_NODE_TAG_HEX]
    return f"{RUNTIME_DIR_PREFIX}{tag}-"


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_runtime_dirs(node_dir: Path, *, base: Path | None = None) -> int:
    """Delete runtime directories this node left behind when it was killed; return how many.

    Only directories owned by this user whose recorded process is gone are removed, so a
    still-running node (or another user's) is never touched.
    """
    base = runtime_base() if base is None else base
    prefix = runtime_dir_prefix(node_dir)
    removed = 0
    with contextlib.suppress(OSError):
        entries = list(base.iterdir())
        for entry in entries:
            if not entry.name.startswith(prefix):
                continue
            pid_text = entry.name[len(prefix) :].partition("-")[0]
            try:
                info = entry.lstat()
            except OSError:
                continue
            if info.st_uid != os.getuid() or not entry.is_dir() or entry.is_symlink():
                continue
            if pid_text.isdigit() and _is_alive(int(pid_text)) and int(pid_text) != os.getpid():
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


class RuntimeDir:
    """A mode-0700 directory, removed (with everything in it) by :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._counter = 0

    @classmethod
    def create(cls, node_dir: Path, *, base: Path | None = None) -> RuntimeDir:
        base = runtime_base() if base is None else base
        prefix = f"{runtime_dir_prefix(node_dir)}{os.getpid()}-"
        try:
            path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
        except OSError as e:
            raise OperationError(f"cannot create the runtime directory: {e.strerror or e}") from e
        return cls(path)

    def fresh_subdir_path(self, stem: str) -> Path:
        """A not-yet-existing path inside the runtime directory, unique per call."""
        self._counter += 1
        return self.path / f"{stem}-{self._counter}"

    @property
    def site_dir(self) -> Path:
        """Where vendored wheels are unpacked."""
        return self.path / "site"

    @property
    def secrets_file(self) -> Path:
        """The app secrets as JSON for helper processes (``$VEIL_SECRETS_FILE``)."""
        return self.path / "secrets.json"

    def write_private(self, path: Path, data: bytes) -> None:
        """Create ``path`` (inside this directory) with mode 0600."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __repr__(self) -> str:
        return f"RuntimeDir({str(self.path)!r})"
