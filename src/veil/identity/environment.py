"""The simulated backend's image: the Python interpreter and distributions a node runs with.

Everything here is pure except :func:`python_environment`, which lists the interpreter's
``sys.path`` directories (``docs/formats.md``, "Simulated image").
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from veil._io import read_bounded
from veil.attestation.result import Tee
from veil.errors import OperationError
from veil.identity.reference import ImageReference

__all__ = [
    "MAX_DISTRIBUTIONS",
    "MAX_RECORD_BYTES",
    "SIMULATED_IMAGE_REGISTER",
    "SIMULATED_IMAGE_SIZE",
    "Distribution",
    "PythonEnvironment",
    "python_environment",
    "simulated_image_reference",
]

#: The simulated quote's register that carries the image digest.
SIMULATED_IMAGE_REGISTER: Final = "image"
SIMULATED_IMAGE_SIZE: Final = 48
#: Most distributions listed: a real environment has tens to a few hundred; the bound keeps a
#: node start (and a verifier) from stalling on a pathological sys.path.
MAX_DISTRIBUTIONS: Final = 10_000
#: Largest RECORD file hashed, in bytes: a RECORD of even a large distribution (tens of
#: thousands of files) is a few MiB.
MAX_RECORD_BYTES: Final = 16 * 1024 * 1024

_LABEL: Final = b"veil/simulated-image/v1\x00"
#: veil's own files are the runtime identity (:mod:`veil.identity.runtime`): leaving its
#: distribution out keeps a new veil release from needing a new image reference.
_RUNTIME_DISTRIBUTION: Final = "veil"
_METADATA_SUFFIXES: Final = (".dist-info", ".egg-info")
_NAME_SEPARATORS: Final = re.compile(r"[-_.]+")


def _normalise(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return _NAME_SEPARATORS.sub("-", name).lower()


@dataclass(frozen=True, order=True)
class Distribution:
    """One installed distribution: normalised name, version, SHA-256 of its RECORD (or b"")."""

    name: str
    version: str
    record_sha256: bytes

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a distribution has a name")
        if len(self.record_sha256) not in (0, 32):
            raise ValueError("record_sha256 is a SHA-256 or empty (no RECORD)")

    def to_json(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "version": self.version,
            "record_sha256": self.record_sha256.hex() or None,
        }


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(8, "big") + value


@dataclass(frozen=True, kw_only=True)
class PythonEnvironment:
    """The environment a simulated node runs in, outside veil's own files (its "image")."""

    implementation: str
    python_version: str
    platform: str
    distributions: tuple[Distribution, ...]

    def __post_init__(self) -> None:
        if len(self.distributions) > MAX_DISTRIBUTIONS:
            raise ValueError(f"more than {MAX_DISTRIBUTIONS} distributions")
        # Sorted here so the digest never depends on the order directories were listed in.
        object.__setattr__(self, "distributions", tuple(sorted(self.distributions)))

    def image(self) -> bytes:
        """The 48-byte ``image`` register: SHA-384 over the encoding in ``docs/formats.md``."""
        hasher = hashlib.sha384(_LABEL)
        for text in (self.implementation, self.python_version, self.platform):
            hasher.update(_field(text.encode("utf-8")))
        hasher.update(len(self.distributions).to_bytes(8, "big"))
        for item in self.distributions:
            hasher.update(_field(item.name.encode("utf-8")))
            hasher.update(_field(item.version.encode("utf-8")))
            hasher.update(_field(item.record_sha256))
        return hasher.digest()

    def reference(self) -> ImageReference:
        """These values as an image reference document (no provenance: nobody built it)."""
        name = (
            f"python environment {self.implementation} {platform.python_version()} "
            f"{self.platform}, {len(self.distributions)} distributions"
        )
        printable = "".join(c if " " <= c <= "~" else "?" for c in name)[:128]
        return ImageReference(
            tee=Tee.SIMULATED,
            name=printable,
            registers={SIMULATED_IMAGE_REGISTER: self.image().hex()},
            provenance=None,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "implementation": self.implementation,
            "python_version": self.python_version,
            "platform": self.platform,
            "distributions": [item.to_json() for item in self.distributions],
        }


def _record_digest(directory: Path) -> bytes:
    data = read_bounded(
        directory / "RECORD",
        max_bytes=MAX_RECORD_BYTES,
        what="wheel record",
        missing_ok=True,
        too_large=OperationError,
    )
    return b"" if data is None else hashlib.sha256(data).digest()


def _distributions_in(directory: str) -> Iterable[Distribution]:
    try:
        entries = list(os.scandir(directory or "."))
    except (FileNotFoundError, NotADirectoryError):
        return  # zip archives and missing entries hold no installed metadata directories
    except OSError as e:
        raise OperationError(f"cannot list {directory}: {e.strerror or e}") from e
    for entry in entries:
        suffix = next((s for s in _METADATA_SUFFIXES if entry.name.endswith(s)), None)
        if suffix is None:
            continue
        stem = entry.name[: -len(suffix)]
        name, _, version = stem.partition("-")
        if not name or _normalise(name) == _RUNTIME_DISTRIBUTION:
            continue
        # Legacy egg-info (a file or a directory) has no RECORD: only its name and version count.
        is_wheel_install = suffix == ".dist-info" and entry.is_dir()
        record = _record_digest(Path(entry.path)) if is_wheel_install else b""
        yield Distribution(name=_normalise(name), version=version, record_sha256=record)


def _site_path() -> list[str]:
    # sys.path[0] is the script's directory or the working directory: the process's, not
    # the interpreter's (a node runs in its node directory, the CLI from its bin directory).
    entries = sys.path if sys.flags.safe_path else sys.path[1:]
    return list(dict.fromkeys(entries))


def python_environment(paths: Sequence[str] | None = None) -> PythonEnvironment:
    """The Python environment of this interpreter: every distribution on ``paths``.

    ``paths`` defaults to ``sys.path`` without its first entry (unless Python runs with
    ``-P``/``-I``), duplicates removed. Each ``*.dist-info`` or ``*.egg-info`` entry of each
    directory counts once per directory, except veil's own.
    """
    found: list[Distribution] = []
    for directory in _site_path() if paths is None else paths:
        found.extend(_distributions_in(directory))
        if len(found) > MAX_DISTRIBUTIONS:
            raise OperationError(f"more than {MAX_DISTRIBUTIONS} installed distributions")
    return PythonEnvironment(
        implementation=sys.implementation.name,
        python_version=sys.version,
        platform=sysconfig.get_platform(),
        distributions=tuple(found),
    )


def simulated_image_reference() -> ImageReference:
    """This machine's simulated image reference values (``veil measure --backend simulated``)."""
    return python_environment().reference()
