from __future__ import annotations

from pathlib import Path

import pytest

from tests.enclave._backend_fakes import SGX_REPORT_DATA_OFFSET, FakeGramine
from veil.attestation.errors import QuoteFormatError
from veil.attestation.result import Tee
from veil.crypto.digest import sha256_tagged
from veil.enclave.backends import Backend, open_backend
from veil.enclave.backends.errors import (
    AppIdentityMismatchError,
    BackendConfigError,
    DeviceError,
    DeviceFormatError,
    ReportDataMismatchError,
)
from veil.enclave.backends.gramine_sgx import FINGERPRINT_ENV, GramineSgxBackend
from veil.identity.app import render_app_identity_file

FINGERPRINT = sha256_tagged(b"app")
CONFIG_DIGEST = bytes(range(32))
#: MRENCLAVE of phala-dcap-qvl/sgx_quote (vectors README, section A).
RECORDED_MR_ENCLAVE_PREFIX = "33d8736d"


@pytest.fixture
def sgx_quote(vectors_dir: Path) -> bytes:
    return (vectors_dir / "phala-dcap-qvl" / "sgx_quote").read_bytes()


@pytest.fixture
def tdx_quote(vectors_dir: Path) -> bytes:
    return (vectors_dir / "phala-dcap-qvl" / "tdx_quote").read_bytes()


def _identity_file(tmp_path: Path, fingerprint: str = FINGERPRINT) -> Path:
    path = tmp_path / "app-identity.json"
    path.write_bytes(render_app_identity_file(fingerprint, CONFIG_DIGEST))
    return path


def _open(
    tmp_path: Path,
    fake: FakeGramine,
    *,
    env_fingerprint: str | None = FINGERPRINT,
    identity_file: Path | None = None,
) -> GramineSgxBackend:
    environ = {} if env_fingerprint is None else {FINGERPRINT_ENV: env_fingerprint}
    return GramineSgxBackend(
        attestation_dir=fake.root,
        identity_file=identity_file or _identity_file(tmp_path),
        environ=environ,
        files=fake,
    )


def test_quote_happy_path_writes_report_data(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    backend = _open(tmp_path, fake)
    assert isinstance(backend, Backend)
    assert backend.tee == Tee.SGX
    report_data = bytes(range(64))
    quote = backend.quote(report_data)
    assert fake.written == [report_data]
    assert quote[SGX_REPORT_DATA_OFFSET : SGX_REPORT_DATA_OFFSET + 64] == report_data


def test_recorded_quote_with_other_report_data_is_refused(tmp_path: Path, sgx_quote: bytes) -> None:
    # The real recorded quote carries "Hello, world!": not what we wrote.
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=False)
    with pytest.raises(ReportDataMismatchError, match="does not carry the report data"):
        _open(tmp_path, fake).quote(bytes(range(64)))


def test_measurement_comes_from_the_quote(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    measurement = _open(tmp_path, fake).measurement()
    assert measurement.tee == Tee.SGX
    assert measurement.values["mr_enclave"].startswith(RECORDED_MR_ENCLAVE_PREFIX)
    assert "mr_signer" in measurement.values
    assert "report_data" not in measurement.values


@pytest.mark.parametrize("size", [0, 63, 65])
def test_report_data_must_be_64_bytes(tmp_path: Path, sgx_quote: bytes, size: int) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    with pytest.raises(ValueError, match="64 bytes"):
        _open(tmp_path, fake).quote(bytes(size))


@pytest.mark.parametrize("kind", ["none", "epid", ""])
def test_attestation_type_must_be_dcap(tmp_path: Path, sgx_quote: bytes, kind: str) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    (fake.root / "attestation_type").write_text(kind)
    with pytest.raises(BackendConfigError, match="not 'dcap'"):
        _open(tmp_path, fake)


def test_missing_attestation_dir(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="attestation_type"):
        GramineSgxBackend(
            attestation_dir=tmp_path / "absent",
            identity_file=_identity_file(tmp_path),
            environ={FINGERPRINT_ENV: FINGERPRINT},
        )


def test_missing_quote_file(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    (fake.root / "quote").unlink()
    with pytest.raises(DeviceError, match="quote"):
        _open(tmp_path, fake).quote(bytes(64))


def test_empty_quote_is_refused(tmp_path: Path) -> None:
    fake = FakeGramine(tmp_path / "attestation", b"", bind_report_data=False)
    with pytest.raises(DeviceFormatError, match="empty quote"):
        _open(tmp_path, fake).quote(bytes(64))


def test_truncated_quote_is_refused(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote[:500], bind_report_data=False)
    with pytest.raises(QuoteFormatError):
        _open(tmp_path, fake).quote(bytes(64))


def test_tdx_quote_from_gramine_is_refused(tmp_path: Path, tdx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", tdx_quote, bind_report_data=False)
    with pytest.raises(DeviceFormatError, match="not SGX"):
        _open(tmp_path, fake).quote(bytes(64))


def test_sealing_key_from_mrenclave_key(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    backend = _open(tmp_path, fake)
    key = backend.sealing_key("storage")
    assert len(key) == 32
    assert key != bytes(range(16)) * 2
    assert backend.sealing_key("tls") != key
    (fake.root / "keys" / "_sgx_mrenclave").write_bytes(bytes(16))
    assert backend.sealing_key("storage") != key


def test_sealing_key_differs_by_app_fingerprint(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    key = _open(tmp_path, fake).sealing_key("storage")
    other_fingerprint = sha256_tagged(b"other app")
    (tmp_path / "other").mkdir()
    other_identity = _identity_file(tmp_path / "other", other_fingerprint)
    other = _open(tmp_path, fake, env_fingerprint=other_fingerprint, identity_file=other_identity)
    assert other.sealing_key("storage") != key


@pytest.mark.parametrize("content", [b"", bytes(15), bytes(17)])
def test_short_or_long_seal_key_read_is_refused(
    tmp_path: Path, sgx_quote: bytes, content: bytes
) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    (fake.root / "keys" / "_sgx_mrenclave").write_bytes(content)
    with pytest.raises(DeviceFormatError, match="16 bytes"):
        _open(tmp_path, fake).sealing_key("storage")


def test_missing_seal_key_file(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    (fake.root / "keys" / "_sgx_mrenclave").unlink()
    with pytest.raises(DeviceError):
        _open(tmp_path, fake).sealing_key("storage")


def test_extend_app_identity_accepts_the_measured_app(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    _open(tmp_path, fake).extend_app_identity(FINGERPRINT, CONFIG_DIGEST)


def test_extend_app_identity_refuses_another_package(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    backend = _open(tmp_path, fake)
    with pytest.raises(AppIdentityMismatchError, match="not the app"):
        backend.extend_app_identity(sha256_tagged(b"evil"), CONFIG_DIGEST)
    with pytest.raises(AppIdentityMismatchError):
        backend.extend_app_identity(FINGERPRINT, bytes(32))


def test_manifest_env_and_identity_file_must_agree(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    with pytest.raises(AppIdentityMismatchError, match="differs"):
        _open(tmp_path, fake, env_fingerprint=sha256_tagged(b"other"))


def test_missing_manifest_env_is_refused(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    with pytest.raises(BackendConfigError, match=FINGERPRINT_ENV):
        _open(tmp_path, fake, env_fingerprint=None)


def test_non_canonical_identity_file_is_refused(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    path = tmp_path / "identity.json"
    path.write_bytes(render_app_identity_file(FINGERPRINT, CONFIG_DIGEST).replace(b",", b", "))
    with pytest.raises(DeviceFormatError, match="canonical"):
        _open(tmp_path, fake, identity_file=path)


def test_missing_identity_file(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    with pytest.raises(DeviceError):
        _open(tmp_path, fake, identity_file=tmp_path / "absent.json")


def test_open_backend_gramine(tmp_path: Path, sgx_quote: bytes) -> None:
    fake = FakeGramine(tmp_path / "attestation", sgx_quote, bind_report_data=True)
    backend = open_backend(
        "gramine-sgx",
        attestation_dir=fake.root,
        identity_file=_identity_file(tmp_path),
        environ={FINGERPRINT_ENV: FINGERPRINT},
        files=fake,
    )
    assert backend.name == "gramine-sgx"
