from __future__ import annotations

import hashlib
import io
import struct
import tarfile
from pathlib import Path

import pytest

from veil.package.fingerprint import FINGERPRINT_LABEL, compute_fingerprint, fingerprint_source
from veil.package.source import AppSource

from ._helpers import MINIMAL_TOML, make_app

# The worked example of docs/formats.md, "App fingerprint": an app directory holding exactly
# app.py = "app = None\n" and veil.toml = MINIMAL_TOML.
EXAMPLE_SECURITY_CONFIG = (
    b'{"allow_restart_without_owner":false,"dependency_lock":null,"healthcheck":"/health",'
    b'"interface":"auto","name":"demo","python_application":"app:app",'
    b'"tls":{"scenario":"zero-trust"},"version":1}'
)
EXAMPLE_ARCHIVE_SHA256 = "sha256:99312c20c5800d1d21983f4a538c6ad50a6580b11ca1c4f40d5eecdefa0c5d0d"
EXAMPLE_FINGERPRINT = "sha256:bdefbae3e0c39f8aec3f689dea377320a3f19aa0df36925a66e619df82a90e20"


def _independent_archive(files: dict[str, bytes]) -> bytes:
    """The archive as the spec describes it, built with Python's tarfile, not veil's writer."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files, key=str.encode):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    members = out.getvalue()
    # tarfile pads to a 10 KiB record; the spec ends right after the two zero blocks.
    end = len(members.rstrip(b"\0"))
    end += -end % 512
    return members[:end] + bytes(1024)


def _independent_fingerprint(archive: bytes, config: bytes) -> str:
    encoded = b"".join(
        struct.pack("<Q", len(part)) + part
        for part in (b"veil/app-fingerprint/v1", hashlib.sha256(archive).digest(), config)
    )
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


def test_worked_example_vector(tmp_path: Path) -> None:
    source = AppSource.load(make_app(tmp_path / "demo"))
    assert source.security.to_json() == EXAMPLE_SECURITY_CONFIG
    result = fingerprint_source(source)
    assert result.archive_sha256 == EXAMPLE_ARCHIVE_SHA256
    assert result.fingerprint == EXAMPLE_FINGERPRINT
    archive = _independent_archive({"app.py": b"app = None\n", "veil.toml": MINIMAL_TOML.encode()})
    assert "sha256:" + hashlib.sha256(archive).hexdigest() == EXAMPLE_ARCHIVE_SHA256
    assert _independent_fingerprint(archive, EXAMPLE_SECURITY_CONFIG) == EXAMPLE_FINGERPRINT


def test_fingerprint_encoding_is_length_prefixed() -> None:
    digest = bytes(32)
    # Moving bytes between fields must change the result (no ambiguity at field boundaries).
    assert compute_fingerprint(archive_sha256=digest, security_config=b"ab") != compute_fingerprint(
        archive_sha256=digest, security_config=b"ab\0"
    )
    assert FINGERPRINT_LABEL == b"veil/app-fingerprint/v1"
    with pytest.raises(ValueError, match="32 bytes"):
        compute_fingerprint(archive_sha256=b"short", security_config=b"{}")


@pytest.mark.parametrize(
    ("change", "same"),
    [
        (lambda root: (root / "app.py").write_text("app = 1\n"), False),
        (lambda root: (root / "new.txt").write_text(""), False),
        (lambda root: (root / "app.py").chmod(0o755), False),
        (
            lambda root: (root / "veil.toml").write_text(
                MINIMAL_TOML + "allow_restart_without_owner = true\n"
            ),
            False,
        ),
        (
            lambda root: (root / "veil.toml").write_text(MINIMAL_TOML + 'ignore = ["*.log"]\n'),
            False,
        ),
        (lambda root: (root / "__pycache__").mkdir(), True),
        (lambda root: (root / "x.pyc").write_text(""), True),
    ],
)
def test_what_changes_the_fingerprint(tmp_path: Path, change: object, same: bool) -> None:
    root = make_app(tmp_path / "app")
    before = fingerprint_source(AppSource.load(root)).fingerprint
    change(root)  # type: ignore[operator]
    after = fingerprint_source(AppSource.load(root)).fingerprint
    assert (before == after) is same
