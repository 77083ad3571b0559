"""End-to-end fixtures: one operator home per module, offline wheels, prebuilt packages."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, register_veil_home
from tests.e2e._certs import CertFiles, owner_ca_and_leaf
from tests.e2e._wheels import build_wheelhouse, offline_copy
from veil.crypto.keys import CodeKey, write_code_key
from veil.host.homes import OperatorHome
from veil.host.nodes import LocalNodeManager
from veil.host.simulation import simulation_root_public_key
from veil.package.encrypted import PackageHeader, read_package_header, write_package
from veil.package.source import prepared_source

EXAMPLES = REPO_ROOT / "examples"
TEST_APPS = Path(__file__).resolve().parent / "apps"
#: The owner's domain in the owner-certificate scenario; the certificate also names
#: localhost so that curl and httpx can reach it without DNS.
OWNER_DOMAIN = "app.localhost"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@dataclass(frozen=True)
class BuiltApp:
    """An app directory packaged once per session, with its code key."""

    source: Path
    package: Path
    code_key: Path
    header: PackageHeader

    @property
    def fingerprint(self) -> str:
        return self.header.fingerprint


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"), ["fastapi", "flask"])


def build_app(source: Path, out: Path, wheelhouse: Path) -> BuiltApp:
    out.mkdir(parents=True, exist_ok=True)
    key = CodeKey.generate()
    package = out / "app.veil"
    with prepared_source(source, find_links=[wheelhouse], no_index=True) as app:
        write_package(app, package, key=key)
    write_code_key(out / "code.key", key)
    return BuiltApp(source, package, out / "code.key", read_package_header(package))


def _owner_certificate_copy(example: str, directory: Path) -> tuple[Path, CertFiles]:
    """The example rewritten for the owner-certificate scenario, with a CA-issued cert."""
    source = offline_copy(EXAMPLES / example, directory)
    certs = owner_ca_and_leaf(directory / "pki", [OWNER_DOMAIN, "localhost", "127.0.0.1"])
    (source / "tls").mkdir()
    shutil.copy(certs.certificate, source / "tls" / "cert.pem")
    toml = (source / "veil.toml").read_text()
    toml = toml.replace(
        '[tls]\nscenario = "zero-trust"\n',
        f'[tls]\nscenario = "owner-certificate"\ndomain = "{OWNER_DOMAIN}"\n'
        'certificate = "tls/cert.pem"\n',
    )
    (source / "veil.toml").write_text(toml)
    return source, certs


def _operator_copy(example: str, directory: Path) -> Path:
    """The example rewritten for the operator TLS scenario (the package's opt-in)."""
    source = offline_copy(EXAMPLES / example, directory)
    toml = (source / "veil.toml").read_text()
    toml = toml.replace('[tls]\nscenario = "zero-trust"\n', '[tls]\nscenario = "operator"\n')
    (source / "veil.toml").write_text(toml)
    return source


@dataclass(frozen=True)
class OwnerCertApp:
    app: BuiltApp
    certs: CertFiles


@pytest.fixture(scope="session")
def built_apps(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> dict[str, BuiltApp]:
    root = tmp_path_factory.mktemp("built")
    return {
        name: build_app(offline_copy(EXAMPLES / name, root / "src"), root / name, wheelhouse)
        for name in ("hello-fastapi", "hello-flask")
    }


@pytest.fixture(scope="session")
def owner_cert_apps(
    tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path
) -> dict[str, OwnerCertApp]:
    root = tmp_path_factory.mktemp("owner-cert")
    apps = {}
    for name in ("hello-fastapi", "hello-flask"):
        source, certs = _owner_certificate_copy(name, root / name)
        apps[name] = OwnerCertApp(build_app(source, root / name / "out", wheelhouse), certs)
    return apps


@pytest.fixture(scope="session")
def operator_apps(
    tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path
) -> dict[str, BuiltApp]:
    """The examples packaged with ``[tls] scenario = "operator"``."""
    root = tmp_path_factory.mktemp("operator")
    return {
        name: build_app(_operator_copy(name, root / name), root / name / "out", wheelhouse)
        for name in ("hello-fastapi", "hello-flask")
    }


@pytest.fixture(scope="session")
def notes_app(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> BuiltApp:
    return build_app(TEST_APPS / "notes", tmp_path_factory.mktemp("notes"), wheelhouse)


def nodes() -> LocalNodeManager:
    """The nodes of the current operator home (``$VEIL_HOME``), as real processes."""
    return LocalNodeManager.from_env()


def local_simulation_root() -> bytes:
    """The public key of the current operator home's simulation root."""
    return simulation_root_public_key(OperatorHome.from_env())


@pytest.fixture(scope="module")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One operator home per test module; every node left in it is stopped at the end."""
    home = register_veil_home(tmp_path_factory.mktemp("e2e-home"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VEIL_HOME", str(home))
        try:
            yield home
        finally:
            manager = nodes()
            for info in manager.list():
                manager.stop(info.name, grace=3.0)


@pytest.fixture(autouse=True)
def _module_veil_home(e2e_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEIL_HOME", str(e2e_home))
