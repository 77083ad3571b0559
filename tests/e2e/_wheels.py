"""An offline wheelhouse for the examples: installed distributions repacked as wheels.

Tests must not use the network, yet the examples vendor real dependencies (FastAPI, Flask).
Every installed distribution records its files (RECORD) and its wheel tags (WHEEL), which is
all a wheel is; repacking them gives pip something to ``download --no-index`` from.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _closure(names: list[str]) -> list[metadata.Distribution]:
    environment = {k: str(v) for k, v in default_environment().items()}
    seen: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in seen:
            continue
        dist = metadata.distribution(name)
        seen[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(
                {**environment, "extra": ""}
            ):
                continue
            pending.append(requirement.name)
    return list(seen.values())


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _repack(dist: metadata.Distribution, directory: Path) -> Path:
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [
        line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")
    ]
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    target = directory / f"{name}-{dist.version}-{tags[0]}.whl"
    records: list[str] = []
    record_path = None
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for file in dist.files or []:
            text = str(file)
            if text.startswith("..") or "__pycache__" in text or text.endswith(".pyc"):
                continue
            if text.endswith(".dist-info/RECORD"):
                record_path = text
                continue
            data = Path(str(dist.locate_file(file))).read_bytes()
            wheel.writestr(text, data)
            records.append(f"{text},{_record_hash(data)},{len(data)}")
        if record_path is None:
            raise RuntimeError(f"{dist.metadata['Name']} has no RECORD")
        records.append(f"{record_path},,")
        wheel.writestr(record_path, "\n".join(records) + "\n")
    return target


def build_wheelhouse(directory: Path, requirements: list[str]) -> Path:
    """Repack ``requirements`` and everything they depend on into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for dist in _closure(requirements):
        _repack(dist, directory)
    return directory


def offline_copy(example: Path, directory: Path) -> Path:
    """A copy of the app ``example`` in ``directory`` whose pins name the versions installed here.

    The examples pin every dependency for a stable fingerprint; the offline wheelhouse can only
    hold what this environment has installed, which may be newer on a fresh machine.
    """
    source = directory / example.name
    shutil.copytree(example, source, ignore=shutil.ignore_patterns("__pycache__"))
    pin_installed(source / "requirements.txt")
    return source


def pin_installed(requirements: Path) -> None:
    """Rewrite each ``name==version`` line of ``requirements`` to the version installed here.

    Comments and lines naming a distribution that is not installed are kept as they are.
    """
    lines = []
    for line in requirements.read_text().splitlines():
        name, pinned, _ = line.partition("==")
        installed = None
        if pinned and not name.lstrip().startswith("#"):
            with contextlib.suppress(metadata.PackageNotFoundError):
                installed = metadata.version(name.strip())
        lines.append(line if installed is None else f"{name.strip()}=={installed}")
    requirements.write_text("\n".join(lines) + "\n")
