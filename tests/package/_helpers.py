"""Builders shared by the package tests: app trees, tiny wheels, hostile tars."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

MINIMAL_TOML = 'name = "demo"\npython_application = "app:app"\n'


def write_tree(
    root: Path,
    files: Mapping[str, bytes | str],
    *,
    executable: frozenset[str] | set[str] = frozenset(),
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        if rel in executable:
            path.chmod(0o755)
    return root


def make_app(
    root: Path, files: Mapping[str, bytes | str] | None = None, *, toml: str = MINIMAL_TOML
) -> Path:
    tree: dict[str, bytes | str] = {"veil.toml": toml, "app.py": "app = None\n"}
    tree.update(files or {})
    return write_tree(root, tree)


def build_wheel(
    directory: Path, name: str, version: str = "1.0", requires: tuple[str, ...] = ()
) -> Path:
    """A minimal pure-Python wheel, enough for pip to download and install it offline."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: veil-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    record += f"{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            zf.writestr(info, data)
    return wheel


def tar_bytes(
    *members: tuple[tarfile.TarInfo, bytes | None], fmt: int = tarfile.USTAR_FORMAT
) -> bytes:
    """A tar built by Python's tarfile (a reference writer, used for hostile archives)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def regular(name: str, data: bytes = b"x", *, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    return info, data


def special(name: str, kind: bytes, *, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None
