from __future__ import annotations

from pathlib import Path

import pytest

from veil.attestation.result import Tee
from veil.enclave.backends import (
    BACKEND_NAMES,
    REPORT_DATA_SIZE,
    Backend,
    Measurement,
    open_backend,
)
from veil.enclave.backends._sealing import derive_sealing_key
from veil.enclave.backends.errors import BackendConfigError
from veil.enclave.backends.interface import check_report_data


class FakeBackend:
    """A test double implementing the Backend protocol (for code built on top of backends)."""

    name = "fake"
    tee = Tee.SIMULATED

    def __init__(self) -> None:
        self.report_data: list[bytes] = []

    def quote(self, report_data: bytes) -> bytes:
        check_report_data(report_data)
        self.report_data.append(report_data)
        return b"FAKE" + report_data

    def measurement(self) -> Measurement:
        return Measurement(Tee.SIMULATED, {"measurement": "00" * 48})

    def sealing_key(self, label: str) -> bytes:
        return derive_sealing_key(bytes(32), backend=self.name, label=label, identity=b"fake")

    def extend_app_identity(self, fingerprint: str, security_config_digest: bytes) -> None:
        return None


def test_fake_backend_implements_the_protocol() -> None:
    fake = FakeBackend()
    assert isinstance(fake, Backend)
    assert fake.quote(bytes(REPORT_DATA_SIZE)).startswith(b"FAKE")


def test_measurement_normalises_hex_to_lower_case() -> None:
    measurement = Measurement(Tee.TDX, {"rtmr3": "AB" * 48})
    assert measurement.values["rtmr3"] == "ab" * 48
    assert measurement.to_json() == {"tee": "tdx", "values": {"rtmr3": "ab" * 48}}


def test_measurement_is_immutable() -> None:
    measurement = Measurement(Tee.TDX, {"rtmr3": "ab"})
    with pytest.raises(TypeError):
        measurement.values["rtmr3"] = "cd"  # type: ignore[index]


@pytest.mark.parametrize("values", [{"x": ""}, {"x": "zz"}, {"": "00"}, {"x": 1}])
def test_measurement_refuses_non_hex(values: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="measurement"):
        Measurement(Tee.TDX, values)  # type: ignore[arg-type]


def test_measurement_refuses_a_non_tee() -> None:
    with pytest.raises(TypeError):
        Measurement("tdx", {"rtmr3": "00"})  # type: ignore[arg-type]


def test_is_matched_by() -> None:
    expected = Measurement(Tee.TDX, {"rtmr3": "ab" * 48})
    reported = {"rtmr3": "AB" * 48, "mr_td": "00" * 48}
    assert expected.is_matched_by(Tee.TDX, reported)
    assert not expected.is_matched_by(Tee.SGX, reported)
    assert not expected.is_matched_by(Tee.TDX, {"rtmr3": "cd" * 48})
    assert not expected.is_matched_by(Tee.TDX, {"mr_td": "00" * 48})


def test_empty_measurement_matches_nothing() -> None:
    assert not Measurement(Tee.TDX, {}).is_matched_by(Tee.TDX, {"rtmr3": "00"})


@pytest.mark.parametrize("size", [0, 1, 63, 65, 128])
def test_check_report_data_sizes(size: int) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        check_report_data(bytes(size))


def test_check_report_data_type() -> None:
    with pytest.raises(TypeError):
        check_report_data("a" * 64)  # type: ignore[arg-type]


def test_sealing_derivation_separates_fields() -> None:
    root = bytes(range(32))
    base = derive_sealing_key(root, backend="b", label="label", identity=b"id")
    assert derive_sealing_key(root, backend="b", label="labe", identity=b"lid") != base
    assert derive_sealing_key(root, backend="c", label="label", identity=b"id") != base
    with pytest.raises(ValueError, match="root"):
        derive_sealing_key(bytes(8), backend="b", label="label", identity=b"id")
    with pytest.raises(ValueError, match="identity"):
        derive_sealing_key(root, backend="b", label="label", identity=b"")


def test_backend_names() -> None:
    assert BACKEND_NAMES == ("simulated", "gramine-sgx", "configfs-tsm")


def test_open_backend_unknown_name() -> None:
    with pytest.raises(BackendConfigError, match="unknown TEE backend"):
        open_backend("sgx-sdk")


def test_open_backend_unknown_option(tmp_path: Path) -> None:
    with pytest.raises(BackendConfigError, match="bad options"):
        open_backend("configfs-tsm", report_dir=tmp_path, colour="blue")
