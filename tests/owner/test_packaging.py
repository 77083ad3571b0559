"""``veil.owner.packaging``: what ``veil package`` writes, and what it refuses to write."""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.crypto.keys import CodeKey, read_code_key, write_code_key
from veil.errors import ConfigError, OperationError
from veil.owner.packaging import (
    package_source,
    plaintext_size,
    refuse_packaged_output,
    write_plain_archive,
)
from veil.package.encrypted import decrypt_package, read_package_header
from veil.package.fingerprint import fingerprint_source
from veil.package.source import AppSource


@pytest.fixture
def source(tmp_path: Path) -> AppSource:
    root = tmp_path / "app"
    root.mkdir()
    (root / "veil.toml").write_text('name = "demo"\npython_application = "app:app"\n')
    (root / "app.py").write_text("def app(environ, start_response):\n    return []\n")
    return AppSource.load(root)


def test_a_fresh_key_encrypts_the_package(source: AppSource, tmp_path: Path) -> None:
    key_out, output = tmp_path / "code.key", tmp_path / "demo.veil"
    info = package_source(source, output, key_out=key_out)
    assert key_out.is_file()
    assert info.fingerprint == fingerprint_source(source).fingerprint
    header = read_package_header(output)
    decrypted = decrypt_package(output, key=read_code_key(key_out), dest_dir=tmp_path / "out")
    assert decrypted.header.fingerprint == info.fingerprint
    assert plaintext_size(header) == fingerprint_source(source).archive_size


def test_an_existing_key_is_used(source: AppSource, tmp_path: Path) -> None:
    key = CodeKey.generate()
    write_code_key(tmp_path / "code.key", key)
    info = package_source(source, tmp_path / "demo.veil", key_file=tmp_path / "code.key")
    assert info.key_id == key.key_id


def test_outputs_inside_the_app_are_refused(source: AppSource, tmp_path: Path) -> None:
    packaged = source.root / "app.py"
    with pytest.raises(ConfigError, match=r"output file .* would be packaged"):
        package_source(source, packaged, key_out=tmp_path / "k")
    assert not (tmp_path / "k").exists()
    with pytest.raises(ConfigError, match=r"key file .* would be packaged"):
        package_source(source, tmp_path / "demo.veil", key_out=packaged)
    with pytest.raises(ConfigError, match=r"output file .* would be packaged"):
        write_plain_archive(source, packaged, overwrite=True)
    refuse_packaged_output(source, tmp_path / "elsewhere", "output file")


def test_a_fresh_key_is_removed_when_packaging_fails(source: AppSource, tmp_path: Path) -> None:
    output = tmp_path / "demo.veil"
    output.write_bytes(b"already here")
    with pytest.raises(OperationError):
        package_source(source, output, key_out=tmp_path / "code.key")
    assert not (tmp_path / "code.key").exists()


def test_exactly_one_key_source_is_misuse(source: AppSource, tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        package_source(source, tmp_path / "demo.veil")


def test_plain_archive_has_the_packages_fingerprint(source: AppSource, tmp_path: Path) -> None:
    archive = write_plain_archive(source, tmp_path / "demo.tar", overwrite=False)
    assert archive.fingerprint == fingerprint_source(source).fingerprint
    assert archive.size == (tmp_path / "demo.tar").stat().st_size
    with pytest.raises(OperationError, match="cannot write"):
        write_plain_archive(source, tmp_path / "demo.tar", overwrite=False)
