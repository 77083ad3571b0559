"""The deterministic archive: a canonical, streamed tar of an app's files (see docs/formats.md)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from veil.errors import FormatError, OperationError
from veil.package._tar import END_OF_ARCHIVE, encode_member_header, padding

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from veil.package.ignore import IgnoreRules  # the node, which only extracts, never loads it

__all__ = [
    "MAX_ARCHIVE_ENTRIES",
    "MAX_COMPONENT_BYTES",
    "MAX_PATH_BYTES",
    "RESERVED_DIR",
    "ArchiveError",
    "ArchiveMember",
    "ArchivePlan",
    "ArchiveReader",
    "HashingReader",
    "archive_digest",
    "check_archive_path",
    "collect_members",
    "write_archive",
]

#: Longest member path, in UTF-8 bytes (Linux ``PATH_MAX``).
MAX_PATH_BYTES: Final = 4096
#: Longest path component, in UTF-8 bytes (Linux ``NAME_MAX``).
MAX_COMPONENT_BYTES: Final = 255
#: Most members in one archive: bounds the reader's bookkeeping on a hostile archive.
MAX_ARCHIVE_ENTRIES: Final = 1_000_000
#: Top-level directory that only veil writes (vendored wheels and their lock).
RESERVED_DIR: Final = ".veil"

#: Backslash (a separator on Windows) and control characters, refused in member paths.
_REFUSED_CHARS: Final = re.compile(r"[\x00-\x1f\x7f\\]")
_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class ArchiveError(FormatError):
    """A file cannot be archived (symlink, device, odd name) or an archive is refused."""


def check_archive_path(path: str) -> bytes:
    """Validate a member path and return its UTF-8 bytes; :class:`ArchiveError` if refused.

    Accepted: relative, '/'-separated, no empty, '.' or '..' component, no backslash, no
    control character, valid UTF-8, within :data:`MAX_PATH_BYTES` and
    :data:`MAX_COMPONENT_BYTES`.
    """
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        raise ArchiveError(f"file name is not valid UTF-8: {path!r}") from None
    if not path or len(encoded) > MAX_PATH_BYTES:
        raise ArchiveError(f"path is empty or longer than {MAX_PATH_BYTES} bytes: {path!r}")
    if path.startswith("/"):
        raise ArchiveError(f"absolute path refused: {path!r}")
    if _REFUSED_CHARS.search(path):
        raise ArchiveError(f"path has a backslash or control character: {path!r}")
    for part in path.split("/"):
        if part in {"", ".", ".."}:
            raise ArchiveError(f"path has an empty, '.' or '..' component: {path!r}")
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise ArchiveError(f"path component longer than {MAX_COMPONENT_BYTES} bytes: {path!r}")
    return encoded


@dataclass(frozen=True)
class ArchiveMember:
    """One regular file: its path in the archive, where to read it, its size and exec bit."""

    path: str
    source: Path
    size: int
    executable: bool


def collect_members(root: Path, rules: IgnoreRules) -> list[ArchiveMember]:
    """Every file of ``root`` that the rules keep, as archive members (unsorted).

    Symlinks (even pointing inside the tree), devices, FIFOs and sockets are refused with
    :class:`ArchiveError` unless ignored: an archive holds only regular files, so that what is
    packaged is exactly what is hashed. Empty directories are not recorded (as in git).
    """
    members: list[ArchiveMember] = []
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as entries:
                listed = list(entries)
            for entry in listed:
                relpath = prefix + entry.name
                info = entry.stat(follow_symlinks=False)
                is_dir = stat.S_ISDIR(info.st_mode)
                if rules.is_ignored(relpath, is_dir=is_dir):
                    continue
                if relpath == RESERVED_DIR:
                    raise ArchiveError(
                        f"{Path(entry.path)}: '{RESERVED_DIR}' is reserved for vendored "
                        "dependencies; rename it or add it to 'ignore'"
                    )
                if is_dir:
                    check_archive_path(relpath)
                    pending.append((Path(entry.path), relpath + "/"))
                elif stat.S_ISREG(info.st_mode):
                    # The path itself is validated once, by ArchivePlan.from_members.
                    members.append(
                        ArchiveMember(
                            path=relpath,
                            source=Path(entry.path),
                            size=info.st_size,
                            executable=bool(info.st_mode & stat.S_IXUSR),
                        )
                    )
                elif stat.S_ISLNK(info.st_mode):
                    raise ArchiveError(
                        f"{Path(entry.path)}: symlinks are not packaged; replace it with a copy "
                        "or add it to 'ignore'"
                    )
                else:
                    raise ArchiveError(
                        f"{Path(entry.path)}: not a regular file (device, FIFO or socket); "
                        "add it to 'ignore'"
                    )
        except OSError as e:
            raise OperationError(f"cannot read {directory}: {e.strerror or e}") from e
    return members


@dataclass(frozen=True)
class ArchivePlan:
    """The sorted, validated members of one archive, ready to stream."""

    members: tuple[ArchiveMember, ...]

    @classmethod
    def from_members(cls, members: Iterable[ArchiveMember]) -> ArchivePlan:
        """Sort by UTF-8 path bytes and refuse duplicates and file/directory clashes."""
        ordered = sorted(members, key=lambda m: check_archive_path(m.path))
        if len(ordered) > MAX_ARCHIVE_ENTRIES:
            raise ArchiveError(f"more than {MAX_ARCHIVE_ENTRIES} files")
        directories: set[str] = set()
        for member in ordered:
            parts = member.path.split("/")
            directories.update("/".join(parts[:i]) for i in range(1, len(parts)))
        previous: str | None = None
        for member in ordered:
            if member.path == previous:
                raise ArchiveError(f"duplicate path {member.path!r}")
            if member.path in directories:
                raise ArchiveError(f"{member.path!r} is both a file and a directory")
            if member.size < 0:
                raise ValueError("member size must not be negative")
            previous = member.path
        return cls(tuple(ordered))

    @property
    def size(self) -> int:
        """Exact byte length of the archive."""
        total = len(END_OF_ARCHIVE)
        for m in self.members:
            header = encode_member_header(m.path, size=m.size, executable=m.executable)
            total += len(header) + m.size + len(padding(m.size))
        return total

    def open(self) -> ArchiveReader:
        return ArchiveReader(self.members)


class ArchiveReader(io.RawIOBase):
    """The archive bytes, produced on demand: file data is read straight into the caller's
    buffer, so memory stays bounded by that buffer whatever the file sizes."""

    def __init__(self, members: Sequence[ArchiveMember]) -> None:
        super().__init__()
        self._members = iter(members)
        self._pending = memoryview(b"")
        self._file: io.FileIO | None = None
        self._member: ArchiveMember | None = None
        self._remaining = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if not view:
            return 0
        while True:
            if self._pending:
                n = min(len(view), len(self._pending))
                view[:n] = self._pending[:n]
                self._pending = self._pending[n:]
                return n
            if self._file is not None:
                if self._remaining:
                    return self._read_data(view)
                self._finish_member()
                continue
            if not self._next_member():
                return 0

    def _next_member(self) -> bool:
        member = next(self._members, None)
        if member is None:
            if self._ended:
                return False
            self._ended = True
            self._pending = memoryview(END_OF_ARCHIVE)
            return True
        try:
            fd = os.open(member.source, _OPEN_FLAGS)
        except OSError as e:
            raise OperationError(f"cannot read {member.source}: {e.strerror or e}") from e
        self._file = io.FileIO(fd, "rb", closefd=True)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != member.size:
            self.close()
            raise ArchiveError(f"{member.source} changed while being packaged")
        self._member = member
        self._remaining = member.size
        header = encode_member_header(member.path, size=member.size, executable=member.executable)
        self._pending = memoryview(header)
        return True

    def _read_data(self, view: memoryview) -> int:
        if self._file is None or self._member is None:
            raise RuntimeError("no member open")
        try:
            n = self._file.readinto(view[: self._remaining])
        except OSError as e:
            raise OperationError(f"cannot read {self._member.source}: {e.strerror or e}") from e
        if not n:
            raise ArchiveError(f"{self._member.source} shrank while being packaged")
        self._remaining -= n
        return n

    def _finish_member(self) -> None:
        if self._file is None or self._member is None:
            raise RuntimeError("no member open")
        grew = self._file.read(1)
        self._file.close()
        self._file = None
        if grew:
            raise ArchiveError(f"{self._member.source} grew while being packaged")
        self._pending = memoryview(padding(self._member.size))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


class HashingReader(io.RawIOBase):
    """Passes reads through, hashing every byte once with SHA-256 and counting them."""

    def __init__(
        self, inner: io.RawIOBase, *, on_read: Callable[[int], None] | None = None
    ) -> None:
        super().__init__()
        self._inner = inner
        self._hasher = hashlib.sha256()
        self._on_read = on_read
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        n = self._inner.readinto(view) or 0
        if n:
            self._hasher.update(view[:n])
            self.count += n
            if self._on_read is not None:
                self._on_read(n)
        return n

    def digest(self) -> bytes:
        return self._hasher.digest()


def write_archive(plan: ArchivePlan, dst: BinaryIO, *, read_size: int = 1 << 20) -> bytes:
    """Write the archive to ``dst``; return its SHA-256 digest."""
    reader = HashingReader(plan.open())
    buffer = memoryview(bytearray(read_size))
    try:
        while n := reader.readinto(buffer):
            dst.write(buffer[:n])
    finally:
        reader.close()
    return reader.digest()


def archive_digest(plan: ArchivePlan, *, on_read: Callable[[int], None] | None = None) -> bytes:
    """SHA-256 of the archive, streamed without writing it anywhere."""
    reader = HashingReader(plan.open(), on_read=on_read)
    buffer = memoryview(bytearray(1 << 20))
    try:
        while reader.readinto(buffer):
            pass
    finally:
        reader.close()
    return reader.digest()
