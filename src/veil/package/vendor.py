"""The pip runner: resolve an app's dependencies into hash-locked wheels (the one process).

This is the one module of :mod:`veil.package` that runs a process (``python -m pip download``);
everything else in the package core only reads files and produces bytes. The lock it writes is
:mod:`veil.package.lock`, which the enclave reads without this module.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from veil.errors import ConfigError, FormatError, OperationError
from veil.package.archive import ArchiveMember
from veil.package.config import DependencyConfig
from veil.package.lock import (
    LOCK_PATH,
    WHEELS_DIR,
    LockedWheel,
    WheelLock,
    check_wheel_filename,
    file_sha256,
)

__all__ = [
    "ResolutionRequest",
    "VendorError",
    "VendoredDependencies",
    "WheelStore",
    "vendor_dependencies",
]

#: How long ``pip download`` may run, in seconds (a large dependency tree on a slow mirror).
PIP_TIMEOUT_SECONDS: Final = 1800


class VendorError(OperationError):
    """pip could not resolve or download the app's dependencies as wheels."""


def _lock_directory(wheels_dir: Path) -> WheelLock:
    wheels = []
    for path in sorted(wheels_dir.iterdir(), key=lambda p: p.name.encode()):
        if not path.is_file() or path.is_symlink():
            raise VendorError(f"pip left something other than a wheel: {path.name}")
        try:
            check_wheel_filename(path.name)
        except FormatError as e:
            raise VendorError(f"pip left something other than a wheel: {e}") from None
        wheels.append(LockedWheel(path.name, file_sha256(path)))
    return WheelLock(tuple(wheels))


@dataclass(frozen=True)
class VendoredDependencies:
    """Wheels downloaded into ``directory`` (a scratch directory) and their lock."""

    directory: Path
    lock: WheelLock

    def archive_members(self) -> list[ArchiveMember]:
        lock_file = self.directory.parent / "lock.json"
        members = [ArchiveMember(LOCK_PATH, lock_file, lock_file.stat().st_size, False)]
        for wheel in self.lock.wheels:
            source = self.directory / wheel.filename
            members.append(
                ArchiveMember(
                    f"{WHEELS_DIR}/{wheel.filename}", source, source.stat().st_size, False
                )
            )
        return members


@dataclass(frozen=True)
class ResolutionRequest:
    """Everything ``pip download`` resolves the app's dependencies from."""

    requirements: str  # the requirements file's text
    find_links: tuple[Path, ...]
    no_index: bool
    platforms: tuple[str, ...]
    python_version: str | None
    python: str  # the interpreter that runs pip


class WheelStore(Protocol):
    """Wheels kept from an earlier resolution (``veil.package.wheel_cache.WheelCache``).

    ``reuse`` copies the wheels of an earlier identical request into ``dest`` (an empty
    directory), each checked against its locked SHA-256, and returns their lock; or returns
    ``None``, leaving ``dest`` empty, when it has none it may reuse. ``record`` keeps what pip
    just resolved; it must not fail the packaging.
    """

    def reuse(self, request: ResolutionRequest, dest: Path) -> WheelLock | None: ...

    def record(self, request: ResolutionRequest, lock: WheelLock, wheels_dir: Path) -> None: ...


def _requirements_file(app_dir: Path, deps: DependencyConfig, scratch: Path) -> Path:
    if deps.requirements is not None:
        path = app_dir / deps.requirements
        if not path.is_file():
            raise ConfigError(
                f"{app_dir / 'veil.toml'}: key 'dependencies.requirements': {path} is not a file"
            )
        return path
    pyproject = app_dir / "pyproject.toml"
    try:
        doc = tomllib.loads(pyproject.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(
            f"{app_dir / 'veil.toml'}: key 'dependencies.pyproject': cannot read {pyproject}: {e}"
        ) from None
    project = doc.get("project", {})
    requirements = project.get("dependencies", []) if isinstance(project, dict) else None
    if not isinstance(requirements, list) or not all(isinstance(r, str) for r in requirements):
        raise ConfigError(f"{pyproject}: [project] dependencies must be a list of strings")
    generated = scratch / "pyproject-requirements.txt"
    generated.write_text("".join(f"{r}\n" for r in requirements), "utf-8")
    return generated


def vendor_dependencies(
    app_dir: Path,
    deps: DependencyConfig,
    *,
    scratch: Path,
    find_links: Sequence[Path] = (),
    no_index: bool = False,
    python: str = sys.executable,
    store: WheelStore | None = None,
) -> VendoredDependencies:
    """Download the app's dependencies as wheels into ``scratch`` and lock them.

    Runs ``python -m pip download --only-binary=:all:`` (never an sdist: nothing is built, and
    nothing runs at spawn time). ``find_links``/``no_index`` select a local wheel directory
    instead of, or as well as, the index. When the requirements carry ``--hash`` options pip
    checks them (``--require-hashes``). With a ``store``, the wheels of an earlier identical
    request are reused instead of running pip when the store allows it (see
    :mod:`veil.package.wheel_cache`), and what pip resolves is recorded there.
    """
    if not deps.declared:
        raise ValueError("the app declares no dependencies")
    wheels_dir = scratch / "wheels"
    wheels_dir.mkdir(parents=True, exist_ok=False)
    requirements = _requirements_file(app_dir, deps, scratch)
    text = requirements.read_text("utf-8")
    request = ResolutionRequest(
        requirements=text,
        find_links=tuple(find_links),
        no_index=no_index,
        platforms=deps.platforms,
        python_version=deps.python_version,
        python=python,
    )
    reused = store.reuse(request, wheels_dir) if store is not None else None
    if reused is None:
        _pip_download(request, requirements, wheels_dir)
    # Hashed here whatever filled the directory, so the lock always describes its bytes.
    lock = _lock_directory(wheels_dir)
    if reused is not None and lock != reused:
        raise VendorError("the wheel cache returned wheels that differ from its lock")
    if reused is None and store is not None:
        store.record(request, lock, wheels_dir)
    (scratch / "lock.json").write_bytes(lock.to_json())
    return VendoredDependencies(directory=wheels_dir, lock=lock)


def _pip_download(request: ResolutionRequest, requirements: Path, wheels_dir: Path) -> None:
    argv = [request.python, "-m", "pip", "download", "--only-binary=:all:"]
    argv += ["--dest", str(wheels_dir)]
    argv += ["--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--quiet"]
    argv += ["-r", str(requirements)]
    if "--hash" in request.requirements:
        argv.append("--require-hashes")
    if request.no_index:
        argv.append("--no-index")
    for directory in request.find_links:
        argv += ["--find-links", str(directory)]
    for platform in request.platforms:
        argv += ["--platform", platform]
    if request.python_version is not None:
        argv += ["--python-version", request.python_version]
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise VendorError(f"could not run pip download: {e}") from e
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise VendorError("pip download failed: " + (detail[-1] if detail else "no output"))
