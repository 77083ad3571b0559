from __future__ import annotations

import asyncio
import hashlib
import io
import os
import stat
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import Message

from veil.crypto.digest import format_tagged_sha256
from veil.enclave.loader import (
    AppImportError,
    WheelInstallError,
    detect_interface,
    import_application,
    install_vendored_wheels,
)
from veil.enclave.runtime_dir import (
    RuntimeDir,
    remove_stale_runtime_dirs,
    runtime_base,
    runtime_dir_prefix,
)
from veil.package.lock import LOCK_PATH, WHEELS_DIR, LockedWheel, WheelLock


@pytest.fixture(autouse=True)
def _restore_import_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def make_wheel(name: str, files: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for path, content in files.items():
            wheel.writestr(path, content)
        dist_info = f"{name}-1.0.dist-info"
        wheel.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\n")
        wheel.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        wheel.writestr(f"{dist_info}/RECORD", "")
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            wheel.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def vendor(app_dir: Path, wheels: dict[str, bytes], *, lie: str | None = None) -> None:
    (app_dir / WHEELS_DIR).mkdir(parents=True)
    locked = []
    for filename, data in sorted(wheels.items()):
        (app_dir / WHEELS_DIR / filename).write_bytes(data)
        digest = hashlib.sha256(b"tampered" if filename == lie else data).digest()
        locked.append(LockedWheel(filename, format_tagged_sha256(digest)))
    (app_dir / LOCK_PATH).write_bytes(WheelLock(tuple(locked)).to_json())


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_wheels_install_offline_and_import(tmp_path: Path) -> None:
    lib, extra = unique("tinylib"), unique("platmod")
    wheel = make_wheel(
        lib,
        {
            f"{lib}/__init__.py": b"VALUE = 42\n",
            f"{lib}-1.0.data/platlib/{extra}.py": b"PLAT = 'yes'\n",
            f"{lib}-1.0.data/scripts/tool": b"#!/bin/sh\n",
            f"{lib}-1.0.data/headers/x.h": b"",
        },
    )
    app = tmp_path / "app"
    app.mkdir()
    vendor(app, {f"{lib}-1.0-py3-none-any.whl": wheel})
    (app / "main.py").write_text(
        f"import {lib}, {extra}\n"
        "async def app(scope, receive, send):\n"
        "    pass\n"
        f"VALUE = {lib}.VALUE\nPLAT = {extra}.PLAT\n"
    )
    site = tmp_path / "site"
    assert install_vendored_wheels(app, site) == 1
    assert (site / lib / "__init__.py").is_file()
    assert (site / f"{extra}.py").is_file()
    assert not (site / "tool").exists()
    assert (site / f"{lib}-1.0.dist-info" / "METADATA").is_file()
    loaded = import_application(app_dir=app, site_dir=site, application="main:app")
    assert loaded.interface == "asgi"
    assert sys.modules["main"].VALUE == 42
    assert sys.modules["main"].PLAT == "yes"
    assert sys.path[:2] == [str(app), str(site)]


def test_app_without_wheels_installs_nothing(tmp_path: Path) -> None:
    assert install_vendored_wheels(tmp_path, tmp_path / "site") == 0
    assert not (tmp_path / "site").exists()


def test_wheel_not_matching_its_locked_digest_is_refused(tmp_path: Path) -> None:
    name = "a-1.0-py3-none-any.whl"
    vendor(tmp_path, {name: make_wheel("a", {"a.py": b""})}, lie=name)
    with pytest.raises(WheelInstallError, match="does not match the lock"):
        install_vendored_wheels(tmp_path, tmp_path / "site")
    assert not (tmp_path / "site" / "a.py").exists()


def test_wheel_not_in_the_lock_is_refused(tmp_path: Path) -> None:
    vendor(tmp_path, {"a-1.0-py3-none-any.whl": make_wheel("a", {"a.py": b""})})
    (tmp_path / WHEELS_DIR / "b-1.0-py3-none-any.whl").write_bytes(make_wheel("b", {}))
    with pytest.raises(WheelInstallError, match="do not match the lock"):
        install_vendored_wheels(tmp_path, tmp_path / "site")


def test_missing_wheel_is_refused(tmp_path: Path) -> None:
    vendor(tmp_path, {"a-1.0-py3-none-any.whl": make_wheel("a", {"a.py": b""})})
    (tmp_path / WHEELS_DIR / "a-1.0-py3-none-any.whl").unlink()
    with pytest.raises(WheelInstallError, match="do not match the lock"):
        install_vendored_wheels(tmp_path, tmp_path / "site")


def test_wheels_without_a_lock_are_refused(tmp_path: Path) -> None:
    (tmp_path / WHEELS_DIR).mkdir(parents=True)
    with pytest.raises(WheelInstallError, match="without a lock"):
        install_vendored_wheels(tmp_path, tmp_path / "site")


@pytest.mark.parametrize("member", ["../evil.py", "/abs/evil.py", "a/../../evil.py", "a\\b.py"])
def test_wheel_member_escaping_the_site_dir_is_refused(tmp_path: Path, member: str) -> None:
    vendor(tmp_path, {"a-1.0-py3-none-any.whl": make_wheel("a", {member: b"x"})})
    with pytest.raises(WheelInstallError):
        install_vendored_wheels(tmp_path, tmp_path / "site")
    assert not (tmp_path / "evil.py").exists()


def test_symlink_in_wheel_is_refused(tmp_path: Path) -> None:
    vendor(tmp_path, {"a-1.0-py3-none-any.whl": make_wheel("a", {}, symlink="a/link")})
    with pytest.raises(WheelInstallError, match="regular files"):
        install_vendored_wheels(tmp_path, tmp_path / "site")


def test_two_wheels_installing_the_same_file_are_refused(tmp_path: Path) -> None:
    vendor(
        tmp_path,
        {
            "a-1.0-py3-none-any.whl": make_wheel("a", {"shared.py": b"A"}),
            "b-1.0-py3-none-any.whl": make_wheel("b", {"shared.py": b"B"}),
        },
    )
    with pytest.raises(WheelInstallError, match="same file"):
        install_vendored_wheels(tmp_path, tmp_path / "site")


def test_corrupt_wheel_is_refused(tmp_path: Path) -> None:
    vendor(tmp_path, {"a-1.0-py3-none-any.whl": b"not a zip at all"})
    with pytest.raises(WheelInstallError, match="not a zip"):
        install_vendored_wheels(tmp_path, tmp_path / "site")


def _write_module(directory: Path, source: str) -> str:
    name = unique("appmod")
    (directory / f"{name}.py").write_text(source)
    return name


def test_wsgi_app_is_detected_and_served_through_a2wsgi(tmp_path: Path) -> None:
    module = _write_module(
        tmp_path,
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('content-type', 'text/plain')])\n"
        "    return [environ['PATH_INFO'].encode()]\n",
    )
    loaded = import_application(app_dir=tmp_path, site_dir=None, application=f"{module}:app")
    assert loaded.interface == "wsgi"
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/wsgi-path",
        "raw_path": b"/wsgi-path",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }

    async def call() -> None:
        await loaded.asgi(scope, receive, send)

    asyncio.run(call())
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"/wsgi-path"


def test_class_based_asgi_app_and_nested_attribute(tmp_path: Path) -> None:
    module = _write_module(
        tmp_path,
        "class App:\n"
        "    async def __call__(self, scope, receive, send):\n"
        "        pass\n"
        "class Holder:\n"
        "    app = App()\n",
    )
    loaded = import_application(app_dir=tmp_path, site_dir=None, application=f"{module}:Holder.app")
    assert loaded.interface == "asgi"


def test_explicit_interface_overrides_detection(tmp_path: Path) -> None:
    module = _write_module(tmp_path, "def app(scope, receive, send):\n    pass\n")
    loaded = import_application(
        app_dir=tmp_path, site_dir=None, application=f"{module}:app", interface="asgi"
    )
    assert loaded.interface == "asgi"


def test_detect_interface_refuses_odd_callables() -> None:
    with pytest.raises(AppImportError, match="neither an ASGI"):
        detect_interface(lambda a: a)
    with pytest.raises(AppImportError, match="callable"):
        detect_interface(42)


def test_import_failure_names_only_the_exception_type(tmp_path: Path) -> None:
    module = _write_module(tmp_path, "raise ValueError('TOP SECRET SOURCE DETAIL')\n")
    with pytest.raises(AppImportError) as info:
        import_application(app_dir=tmp_path, site_dir=None, application=f"{module}:app")
    assert "ValueError" in str(info.value)
    assert "TOP SECRET" not in str(info.value)
    assert info.value.__cause__ is None


def test_missing_attribute_and_not_callable(tmp_path: Path) -> None:
    module = _write_module(tmp_path, "app = 42\n")
    with pytest.raises(AppImportError, match="no attribute"):
        import_application(app_dir=tmp_path, site_dir=None, application=f"{module}:nope")
    with pytest.raises(AppImportError, match="callable"):
        import_application(app_dir=tmp_path, site_dir=None, application=f"{module}:app")


def test_runtime_dir_is_private_and_removed(tmp_path: Path) -> None:
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    runtime = RuntimeDir.create(node_dir)
    try:
        assert runtime.path.parent == runtime_base()
        assert runtime.path.name.startswith(runtime_dir_prefix(node_dir) + f"{os.getpid()}-")
        assert stat.S_IMODE(runtime.path.stat().st_mode) == 0o700
        runtime.write_private(runtime.secrets_file, b"{}")
        assert stat.S_IMODE(runtime.secrets_file.stat().st_mode) == 0o600
        assert runtime.fresh_subdir_path("app") != runtime.fresh_subdir_path("app")
    finally:
        runtime.close()
    assert not runtime.path.exists()


def test_stale_runtime_dirs_of_dead_processes_are_removed(tmp_path: Path) -> None:
    node_dir, base = tmp_path / "node", tmp_path / "shm"
    node_dir.mkdir()
    base.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    prefix = runtime_dir_prefix(node_dir)
    stale = base / f"{prefix}{int(dead.stdout)}-abc"
    stale.mkdir()
    (stale / "main.py").write_text("plaintext")
    alive = base / f"{prefix}1-abc"  # pid 1 always exists
    alive.mkdir()
    other = base / f"{runtime_dir_prefix(tmp_path)}999999-abc"
    other.mkdir()
    assert remove_stale_runtime_dirs(node_dir, base=base) == 1
    assert not stale.exists()
    assert alive.exists()
    assert other.exists()
