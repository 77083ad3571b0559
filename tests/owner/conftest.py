"""An in-process simulated enclave instance for the notes test app (no node process)."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from veil.crypto.keys import CodeKey, write_code_key
from veil.enclave.instance import EnclaveInstance
from veil.enclave.spec import NodeSpec
from veil.host.homes import OperatorHome
from veil.host.simulation import simulated_backend_options
from veil.package.encrypted import read_package_header, write_package
from veil.package.source import AppSource

NOTES = Path(__file__).resolve().parent.parent / "e2e" / "apps" / "notes"


@dataclass(frozen=True)
class Packaged:
    package: Path
    key_file: Path
    key: CodeKey


def package_app(source: Path, out: Path) -> Packaged:
    out.mkdir(parents=True, exist_ok=True)
    key = CodeKey.generate()
    write_package(AppSource.load(source), out / "app.veil", key=key)
    write_code_key(out / "code.key", key)
    return Packaged(out / "app.veil", out / "code.key", key)


@pytest.fixture
def notes(tmp_path: Path) -> Packaged:
    return package_app(NOTES, tmp_path / "notes")


@pytest.fixture
def other_app(tmp_path: Path) -> Packaged:
    """The same app name with one changed file: another fingerprint."""
    source = tmp_path / "other-src"
    shutil.copytree(NOTES, source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "notes.py").write_text((source / "notes.py").read_text() + "\n# changed\n")
    return package_app(source, tmp_path / "other")


def make_instance(package: Path) -> EnclaveInstance:
    spec = NodeSpec(
        name="unit",
        instance_id=secrets.token_hex(16),
        package=package,
        port=8443,
        backend="simulated",
        backend_options=simulated_backend_options(OperatorHome.from_env()),
        created_at=datetime.now(UTC),
    )
    return EnclaveInstance.create(spec, read_package_header(package), now=datetime.now(UTC))
