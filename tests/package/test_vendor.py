from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto.keys import CodeKey
from veil.errors import ConfigError, FormatError
from veil.package.encrypted import decrypt_package, read_package_header, write_package
from veil.package.lock import (
    LOCK_PATH,
    WHEELS_DIR,
    LockedWheel,
    WheelLock,
    install_requirements,
    verify_vendored,
)
from veil.package.source import AppSource, prepared_source
from veil.package.vendor import VendorError

from ._helpers import MINIMAL_TOML, build_wheel, make_app

DEPS_TOML = MINIMAL_TOML + '[dependencies]\nrequirements = "requirements.txt"\n'


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wheels")
    build_wheel(directory, "tinydep")
    build_wheel(directory, "toplib", "2.0", requires=("tinydep>=1",))
    build_wheel(directory, "unused")
    return directory


def _app(root: Path, requirements: str) -> Path:
    return make_app(root, {"requirements.txt": requirements}, toml=DEPS_TOML)


def test_vendoring_from_local_wheels_locks_and_packages_them(
    tmp_path: Path, wheelhouse: Path
) -> None:
    root = _app(tmp_path / "app", "toplib==2.0\n")
    with prepared_source(root, find_links=[wheelhouse], no_index=True) as source:
        paths = [m.path for m in source.plan.members]
        assert f"{WHEELS_DIR}/tinydep-1.0-py3-none-any.whl" in paths
        assert f"{WHEELS_DIR}/toplib-2.0-py3-none-any.whl" in paths
        assert not any("unused" in p for p in paths)
        assert LOCK_PATH in paths
        lock_member = next(m for m in source.plan.members if m.path == LOCK_PATH)
        lock = WheelLock.from_json(lock_member.source.read_bytes())
        assert [w.filename for w in lock.wheels] == [
            "tinydep-1.0-py3-none-any.whl",
            "toplib-2.0-py3-none-any.whl",
        ]
        wheel = wheelhouse / "tinydep-1.0-py3-none-any.whl"
        assert lock.wheels[0].sha256 == "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert source.security.dependency_lock_sha256 == lock.digest()
        key = CodeKey.generate()
        write_package(source, tmp_path / "app.veil", key=key)
    header = read_package_header(tmp_path / "app.veil")
    assert header.security_config.dependency_lock_sha256 == lock.digest()
    decrypt_package(tmp_path / "app.veil", key=key, dest_dir=tmp_path / "out")
    assert verify_vendored(tmp_path / "out") == lock


def test_hash_pinned_requirements_are_checked(tmp_path: Path, wheelhouse: Path) -> None:
    wheel = (wheelhouse / "tinydep-1.0-py3-none-any.whl").read_bytes()
    good = hashlib.sha256(wheel).hexdigest()
    root = _app(tmp_path / "good", f"tinydep==1.0 --hash=sha256:{good}\n")
    with prepared_source(root, find_links=[wheelhouse], no_index=True) as source:
        assert source.security.dependency_lock_sha256 is not None
    root = _app(tmp_path / "bad", f"tinydep==1.0 --hash=sha256:{'0' * 64}\n")
    with (
        pytest.raises(VendorError, match="pip download failed"),
        prepared_source(root, find_links=[wheelhouse], no_index=True),
    ):
        pass


def test_missing_wheel_offline_fails(tmp_path: Path, wheelhouse: Path) -> None:
    root = _app(tmp_path / "app", "notthere==1.0\n")
    with (
        pytest.raises(VendorError, match="pip download failed"),
        prepared_source(root, find_links=[wheelhouse], no_index=True),
    ):
        pass


def test_pyproject_dependencies(tmp_path: Path, wheelhouse: Path) -> None:
    toml = MINIMAL_TOML + "[dependencies]\npyproject = true\n"
    root = make_app(
        tmp_path / "app",
        {"pyproject.toml": '[project]\nname = "x"\nversion = "1"\ndependencies = ["tinydep"]\n'},
        toml=toml,
    )
    with prepared_source(root, find_links=[wheelhouse], no_index=True) as source:
        assert f"{WHEELS_DIR}/tinydep-1.0-py3-none-any.whl" in [m.path for m in source.plan.members]


def test_declared_dependencies_must_be_vendored(tmp_path: Path) -> None:
    root = _app(tmp_path / "app", "tinydep\n")
    with pytest.raises(ConfigError, match="must be vendored"):
        AppSource.load(root)
    (root / "requirements.txt").unlink()
    with pytest.raises(ConfigError, match=r"dependencies\.requirements"), prepared_source(root):
        pass


def test_lock_is_canonical_and_verified(tmp_path: Path) -> None:
    lock = WheelLock((LockedWheel("a-1-py3-none-any.whl", "sha256:" + "00" * 32),))
    assert WheelLock.from_json(lock.to_json()) == lock
    for bad in (
        lock.to_json().replace(b":1", b": 1", 1),
        b'{"version":1,"wheels":[{"filename":"../x.whl","sha256":"sha256:' + b"0" * 64 + b'"}]}\n',
        b'{"version":1,"wheels":[{"filename":"x.tar.gz","sha256":"sha256:' + b"0" * 64 + b'"}]}\n',
        b'{"version":2,"wheels":[]}\n',
        b"[]",
    ):
        with pytest.raises(FormatError):
            WheelLock.from_json(bad)


def test_verify_vendored_detects_tampering(tmp_path: Path, wheelhouse: Path) -> None:
    wheel = wheelhouse / "tinydep-1.0-py3-none-any.whl"
    digest = "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock = WheelLock((LockedWheel(wheel.name, digest),))
    (tmp_path / ".veil/wheels").mkdir(parents=True)
    (tmp_path / LOCK_PATH).write_bytes(lock.to_json())
    target = tmp_path / WHEELS_DIR / wheel.name
    target.write_bytes(wheel.read_bytes())
    assert verify_vendored(tmp_path) == lock
    target.write_bytes(wheel.read_bytes() + b"x")
    with pytest.raises(FormatError, match="does not match its locked digest"):
        verify_vendored(tmp_path)
    target.write_bytes(wheel.read_bytes())
    (tmp_path / WHEELS_DIR / "extra-1-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(FormatError, match="do not match the lock"):
        verify_vendored(tmp_path)


def test_offline_install_from_lock(tmp_path: Path, wheelhouse: Path) -> None:
    """The documented enclave install: no index, no deps resolution, every hash checked."""
    wheel = wheelhouse / "tinydep-1.0-py3-none-any.whl"
    digest = "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock = WheelLock((LockedWheel(wheel.name, digest),))
    requirements = tmp_path / "req.txt"
    requirements.write_text(install_requirements(lock, wheelhouse))
    command = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps"]
    command += ["--require-hashes", "--disable-pip-version-check", "--quiet"]
    command += ["--target", str(tmp_path / "site"), "-r", str(requirements)]
    subprocess.run(command, check=True, capture_output=True)
    assert (tmp_path / "site/tinydep/__init__.py").read_text() == "VERSION = '1.0'\n"
    requirements.write_text(install_requirements(lock, wheelhouse).replace(digest[7:], "0" * 64))
    assert subprocess.run(command, capture_output=True).returncode != 0


@given(st.binary(max_size=300))
def test_lock_parser_raises_only_format_error(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        WheelLock.from_json(data)
