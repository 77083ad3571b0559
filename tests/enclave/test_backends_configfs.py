from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.enclave._backend_fakes import (
    SNP_HOST_DATA_OFFSET,
    TDX_REPORT_DATA_OFFSET,
    FakeTsmKernel,
    patch,
)
from veil.attestation.errors import QuoteFormatError
from veil.attestation.result import Tee
from veil.crypto.digest import sha256_tagged
from veil.enclave.backends import Backend, open_backend
from veil.enclave.backends.configfs_tsm import MAX_REPORT_ATTEMPTS, ConfigfsTsmBackend
from veil.enclave.backends.errors import (
    AppIdentityMismatchError,
    BackendConfigError,
    DeviceError,
    DeviceFormatError,
    ReportDataMismatchError,
)
from veil.identity.app import expected_measurement, extend_rtmr, snp_host_data, tdx_rtmr_event
from veil.identity.runtime import RuntimeIdentity

RUNTIME = RuntimeIdentity(version="0.1.0", digest=sha256_tagged(b"runtime files"))
FINGERPRINT = sha256_tagged(b"app")
CONFIG_DIGEST = bytes(range(32))
#: MEASUREMENT of coco-trustee/snp/test-report.bin.
SNP_MEASUREMENT = (
    "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c"
    "23500644e0e692e6be917f9050d3d38c"
)


@pytest.fixture
def tdx_quote(vectors_dir: Path) -> bytes:
    return (vectors_dir / "phala-dcap-qvl" / "tdx_quote").read_bytes()


@pytest.fixture
def sgx_quote(vectors_dir: Path) -> bytes:
    return (vectors_dir / "phala-dcap-qvl" / "sgx_quote").read_bytes()


@pytest.fixture
def snp_report(vectors_dir: Path) -> bytes:
    return (vectors_dir / "coco-trustee" / "snp" / "test-report.bin").read_bytes()


def _tdx(tmp_path: Path, blob: bytes, *, bind: bool = True) -> FakeTsmKernel:
    return FakeTsmKernel(
        tmp_path / "tsm" / "report",
        provider="tdx_guest",
        blob=blob,
        rtmr_path=tmp_path / "measurements" / "rtmr3:sha384",
        bind_report_data=bind,
    )


def _snp(tmp_path: Path, blob: bytes, *, bind: bool = True) -> FakeTsmKernel:
    return FakeTsmKernel(
        tmp_path / "tsm" / "report", provider="sev_guest", blob=blob, bind_report_data=bind
    )


def _open(kernel: FakeTsmKernel, *, insecure: bool = False) -> ConfigfsTsmBackend:
    return ConfigfsTsmBackend(
        runtime=RUNTIME,
        report_dir=kernel.report_dir,
        rtmr_path=kernel.rtmr_path or kernel.report_dir.parent / "no-rtmr",
        files=kernel,
        allow_unmeasured_app_insecure=insecure,
    )


def test_tdx_quote_happy_path(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    backend = _open(kernel)
    assert isinstance(backend, Backend)
    assert backend.tee == Tee.TDX
    report_data = bytes(range(64))
    quote = backend.quote(report_data)
    assert kernel.inblobs == [report_data]
    assert quote[TDX_REPORT_DATA_OFFSET : TDX_REPORT_DATA_OFFSET + 64] == report_data


def test_report_entries_are_removed(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    _open(kernel).quote(bytes(64))
    assert len(kernel.entries_created) == 2  # the provider probe and the request
    assert list(kernel.report_dir.iterdir()) == []


def test_recorded_tdx_quote_with_other_report_data_is_refused(
    tmp_path: Path, tdx_quote: bytes
) -> None:
    with pytest.raises(ReportDataMismatchError, match="does not carry"):
        _open(_tdx(tmp_path, tdx_quote, bind=False)).quote(bytes(range(64)))


def test_concurrent_writer_is_retried(
    tmp_path: Path, tdx_quote: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    backend = _open(kernel)
    kernel.concurrent_writes = 1
    with caplog.at_level(logging.WARNING):
        backend.quote(bytes(64))
    assert len(kernel.inblobs) == 2
    assert "changed under us" in caplog.text


def test_persistent_concurrent_writer_is_an_error(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    backend = _open(kernel)
    kernel.concurrent_writes = MAX_REPORT_ATTEMPTS
    with pytest.raises(DeviceError, match="another process"):
        backend.quote(bytes(64))
    assert list(kernel.report_dir.iterdir()) == []


@pytest.mark.parametrize("size", [0, 63, 65])
def test_report_data_must_be_64_bytes(tmp_path: Path, tdx_quote: bytes, size: int) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        _open(_tdx(tmp_path, tdx_quote)).quote(bytes(size))


def test_missing_report_dir(tmp_path: Path) -> None:
    with pytest.raises(BackendConfigError, match=r"6\.7"):
        ConfigfsTsmBackend(runtime=RUNTIME, report_dir=tmp_path / "absent")


def test_unknown_provider_is_refused(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = FakeTsmKernel(tmp_path / "report", provider="arm_cca_guest", blob=tdx_quote)
    with pytest.raises(BackendConfigError, match="unsupported configfs-tsm provider"):
        _open(kernel)
    assert list(kernel.report_dir.iterdir()) == []


def test_empty_outblob_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeviceFormatError, match="empty"):
        _open(_tdx(tmp_path, b"", bind=False)).quote(bytes(64))


def test_truncated_outblob_is_refused(tmp_path: Path, tdx_quote: bytes) -> None:
    with pytest.raises(QuoteFormatError):
        _open(_tdx(tmp_path, tdx_quote[:700])).quote(bytes(64))


def test_sgx_quote_from_tdx_guest_is_refused(tmp_path: Path, sgx_quote: bytes) -> None:
    with pytest.raises(DeviceFormatError, match="tdx_guest returned a sgx quote"):
        _open(_tdx(tmp_path, sgx_quote, bind=False)).quote(bytes(64))


def test_non_numeric_generation_is_refused(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    backend = _open(kernel)
    original = kernel.mkdir

    def broken_mkdir(path: Path) -> None:
        original(path)
        (path / "generation").write_text("many\n")

    kernel.mkdir = broken_mkdir  # type: ignore[method-assign]
    with pytest.raises(DeviceFormatError, match="not a number"):
        backend.quote(bytes(64))


def test_tdx_extends_rtmr3_and_measurement_matches_expected(
    tmp_path: Path, tdx_quote: bytes
) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    backend = _open(kernel)
    backend.extend_app_identity(FINGERPRINT, CONFIG_DIGEST)
    event = tdx_rtmr_event(RUNTIME, FINGERPRINT, CONFIG_DIGEST)
    assert kernel.extensions == [event]
    assert backend.app_rtmr_initial == bytes(48)
    expected = expected_measurement(
        backend="configfs-tsm",
        runtime=RUNTIME,
        fingerprint=FINGERPRINT,
        security_config_digest=CONFIG_DIGEST,
    )
    measurement = backend.measurement()
    assert measurement.values["rtmr3"] == extend_rtmr(bytes(48), event).hex()
    assert expected.is_matched_by(measurement.tee, measurement.values)
    assert "report_data" not in measurement.values


def test_tdx_extension_from_a_non_zero_start(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    assert kernel.rtmr_path is not None
    start = bytes(range(48))
    kernel.rtmr_path.write_bytes(start)
    backend = _open(kernel)
    backend.extend_app_identity(FINGERPRINT, CONFIG_DIGEST)
    assert backend.app_rtmr_initial == start
    expected = expected_measurement(
        backend="configfs-tsm",
        runtime=RUNTIME,
        fingerprint=FINGERPRINT,
        security_config_digest=CONFIG_DIGEST,
        rtmr_initial=start,
    )
    assert backend.measurement().values["rtmr3"] == expected.values["rtmr3"]


def test_tdx_extension_is_recorded_once(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    backend = _open(kernel)
    backend.extend_app_identity(FINGERPRINT, CONFIG_DIGEST)
    backend.extend_app_identity(FINGERPRINT, CONFIG_DIGEST)
    assert len(kernel.extensions) == 1
    with pytest.raises(AppIdentityMismatchError, match="already recorded"):
        backend.extend_app_identity(sha256_tagged(b"second app"), CONFIG_DIGEST)
    assert len(kernel.extensions) == 1


def test_concurrent_rtmr_extension_is_detected(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    kernel.extra_extension = bytes(48)
    with pytest.raises(AppIdentityMismatchError, match="did not extend"):
        _open(kernel).extend_app_identity(FINGERPRINT, CONFIG_DIGEST)


def test_short_rtmr_read_is_refused(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    assert kernel.rtmr_path is not None
    kernel.rtmr_path.write_bytes(bytes(32))
    with pytest.raises(DeviceFormatError, match="48 bytes"):
        _open(kernel).extend_app_identity(FINGERPRINT, CONFIG_DIGEST)


def test_missing_rtmr_interface_refuses_to_run(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    assert kernel.rtmr_path is not None
    kernel.rtmr_path.unlink()
    with pytest.raises(BackendConfigError, match=r"6\.16"):
        _open(kernel).extend_app_identity(FINGERPRINT, CONFIG_DIGEST)


def test_missing_rtmr_interface_with_insecure_option_warns(
    tmp_path: Path, tdx_quote: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    assert kernel.rtmr_path is not None
    kernel.rtmr_path.unlink()
    with caplog.at_level(logging.WARNING):
        _open(kernel, insecure=True).extend_app_identity(FINGERPRINT, CONFIG_DIGEST)
    assert "insecure" in caplog.text
    assert kernel.extensions == []


def test_tdx_has_no_sealing_key(tmp_path: Path, tdx_quote: bytes) -> None:
    with pytest.raises(BackendConfigError, match="key broker"):
        _open(_tdx(tmp_path, tdx_quote)).sealing_key("storage")


def test_snp_report_happy_path(tmp_path: Path, snp_report: bytes) -> None:
    kernel = _snp(tmp_path, snp_report)
    backend = _open(kernel)
    assert backend.tee == Tee.SEV_SNP
    report_data = bytes(range(64))
    report = backend.quote(report_data)
    assert report[0x50:0x90] == report_data
    measurement = backend.measurement()
    assert measurement.tee == Tee.SEV_SNP
    assert measurement.values["measurement"] == SNP_MEASUREMENT


def test_recorded_snp_report_with_other_report_data_is_refused(
    tmp_path: Path, snp_report: bytes
) -> None:
    with pytest.raises(ReportDataMismatchError):
        _open(_snp(tmp_path, snp_report, bind=False)).quote(bytes(range(64)))


@pytest.mark.parametrize("cut", [0, 100, 1183])
def test_truncated_snp_report_is_refused(tmp_path: Path, snp_report: bytes, cut: int) -> None:
    kernel = _snp(tmp_path, snp_report[:cut], bind=False)
    with pytest.raises((QuoteFormatError, DeviceFormatError)):
        _open(kernel).quote(bytes(64))


def test_snp_unknown_report_version_is_refused(tmp_path: Path, snp_report: bytes) -> None:
    kernel = _snp(tmp_path, patch(snp_report, 0, (99).to_bytes(4, "little")))
    with pytest.raises(QuoteFormatError, match="version"):
        _open(kernel).quote(bytes(64))


def test_snp_without_host_data_refuses_to_run(tmp_path: Path, snp_report: bytes) -> None:
    # The real report was launched with HOST_DATA all zeros: no app identity recorded.
    with pytest.raises(BackendConfigError, match="HOST_DATA"):
        _open(_snp(tmp_path, snp_report)).extend_app_identity(FINGERPRINT, CONFIG_DIGEST)


def test_snp_without_host_data_insecure_option_warns(
    tmp_path: Path, snp_report: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        _open(_snp(tmp_path, snp_report), insecure=True).extend_app_identity(
            FINGERPRINT, CONFIG_DIGEST
        )
    assert "HOST_DATA" in caplog.text


def test_snp_host_data_of_this_app_is_accepted(tmp_path: Path, snp_report: bytes) -> None:
    host_data = snp_host_data(RUNTIME, FINGERPRINT, CONFIG_DIGEST)
    kernel = _snp(tmp_path, patch(snp_report, SNP_HOST_DATA_OFFSET, host_data))
    backend = _open(kernel)
    backend.extend_app_identity(FINGERPRINT, CONFIG_DIGEST)
    expected = expected_measurement(
        backend="configfs-tsm",
        runtime=RUNTIME,
        fingerprint=FINGERPRINT,
        security_config_digest=CONFIG_DIGEST,
        tee=Tee.SEV_SNP,
    )
    measurement = backend.measurement()
    assert expected.is_matched_by(measurement.tee, measurement.values)


def test_snp_host_data_of_another_app_is_refused(tmp_path: Path, snp_report: bytes) -> None:
    host_data = snp_host_data(RUNTIME, sha256_tagged(b"other app"), CONFIG_DIGEST)
    kernel = _snp(tmp_path, patch(snp_report, SNP_HOST_DATA_OFFSET, host_data))
    with pytest.raises(AppIdentityMismatchError, match="another app"):
        _open(kernel, insecure=True).extend_app_identity(FINGERPRINT, CONFIG_DIGEST)


def test_snp_has_no_sealing_key(tmp_path: Path, snp_report: bytes) -> None:
    with pytest.raises(BackendConfigError, match="sev-guest"):
        _open(_snp(tmp_path, snp_report)).sealing_key("storage")


def test_open_backend_configfs(tmp_path: Path, tdx_quote: bytes) -> None:
    kernel = _tdx(tmp_path, tdx_quote)
    backend = open_backend(
        "configfs-tsm", runtime=RUNTIME, report_dir=kernel.report_dir, files=kernel
    )
    assert backend.name == "configfs-tsm"
    assert backend.tee == Tee.TDX
