from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import veil.app
from veil.app import NotInEnclaveError
from veil.enclave.storage import SealedDirectory, derive_storage_key


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(veil.app.SECRETS_FILE_ENV, raising=False)
    veil.app._uninstall()
    yield
    veil.app._uninstall()


def test_outside_an_enclave_everything_refuses() -> None:
    assert not veil.app.is_in_enclave()
    with pytest.raises(NotInEnclaveError):
        veil.app.secrets()
    with pytest.raises(NotInEnclaveError):
        veil.app.data_dir()


def test_installed_runtime_serves_secrets_and_data(tmp_path: Path) -> None:
    data = SealedDirectory(
        tmp_path,
        key=derive_storage_key(b"\x01" * 32, fingerprint="sha256:" + "00" * 32, purpose="t"),
    )
    veil.app._install(app_secrets={"TOKEN": "s3cret"}, data=data)
    assert veil.app.is_in_enclave()
    assert dict(veil.app.secrets()) == {"TOKEN": "s3cret"}
    assert veil.app.secret("TOKEN") == "s3cret"
    with pytest.raises(KeyError, match="MISSING") as info:
        veil.app.secret("MISSING")
    assert "s3cret" not in str(info.value)
    with pytest.raises(TypeError):
        veil.app.secrets()["TOKEN"] = "x"  # type: ignore[index]
    veil.app.data_dir().write_text("f", "v")
    assert veil.app.data_dir().read_text("f") == "v"


def test_helper_processes_read_the_secrets_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"A": "1"}))
    monkeypatch.setenv(veil.app.SECRETS_FILE_ENV, str(path))
    assert veil.app.is_in_enclave()
    assert dict(veil.app.secrets()) == {"A": "1"}
    path.write_text(json.dumps({"A": 1}))
    with pytest.raises(NotInEnclaveError, match="names to strings"):
        veil.app.secrets()
    path.write_text("not json")
    with pytest.raises(NotInEnclaveError, match="not valid JSON"):
        veil.app.secrets()
