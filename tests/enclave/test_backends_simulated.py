from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from veil.attestation.result import Tee
from veil.attestation.simulated import verify_simulated_quote
from veil.crypto.digest import sha256_tagged
from veil.enclave.backends import Backend, open_backend
from veil.enclave.backends.errors import AppIdentityMismatchError
from veil.enclave.backends.simulated import (
    PLATFORM_SECRET_FILE_NAME,
    SimulatedBackend,
    load_or_create_simulation_root,
)
from veil.errors import FormatError
from veil.identity.app import expected_measurement
from veil.identity.environment import python_environment
from veil.identity.runtime import RuntimeIdentity

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
RUNTIME = RuntimeIdentity(version="0.1.0", digest=sha256_tagged(b"runtime files"))
FINGERPRINT = sha256_tagged(b"app")
CONFIG_DIGEST = bytes(range(32))


def _backend(
    root: Path,
    *,
    runtime: RuntimeIdentity = RUNTIME,
    fingerprint: str = FINGERPRINT,
    config: bytes = CONFIG_DIGEST,
) -> SimulatedBackend:
    return SimulatedBackend(
        root_path=root,
        runtime=runtime,
        fingerprint=fingerprint,
        security_config_digest=config,
        clock=lambda: NOW,
    )


@pytest.fixture
def root_path(tmp_path: Path) -> Path:
    return tmp_path / "simulation" / "root.pem"


def test_creates_root_and_platform_secret_private(root_path: Path) -> None:
    _backend(root_path)
    secret = root_path.parent / PLATFORM_SECRET_FILE_NAME
    assert stat.S_IMODE(root_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_bytes()) == 32


def test_root_is_reused(root_path: Path) -> None:
    first = load_or_create_simulation_root(root_path)
    second = load_or_create_simulation_root(root_path)
    assert first.public_key_bytes() == second.public_key_bytes()


def test_corrupt_root_is_refused(root_path: Path) -> None:
    root_path.parent.mkdir(parents=True)
    root_path.write_bytes(b"not a key")
    with pytest.raises(FormatError):
        _backend(root_path)


def test_wrong_size_platform_secret_is_refused(root_path: Path) -> None:
    root_path.parent.mkdir(parents=True)
    (root_path.parent / PLATFORM_SECRET_FILE_NAME).write_bytes(b"short")
    with pytest.raises(FormatError):
        _backend(root_path)


def test_quote_verifies_and_carries_expected_measurement(root_path: Path) -> None:
    backend = _backend(root_path)
    assert isinstance(backend, Backend)
    report_data = bytes(range(64))
    verified = verify_simulated_quote(
        backend.quote(report_data), root_public_key=backend.root_public_key, now=NOW
    )
    expected = expected_measurement(
        backend="simulated",
        runtime=RUNTIME,
        fingerprint=FINGERPRINT,
        security_config_digest=CONFIG_DIGEST,
    )
    assert verified.tee == Tee.SIMULATED
    assert verified.report_data == report_data
    image = python_environment().image().hex()
    assert backend.measurement().values == {**expected.values, "image": image}
    assert expected.is_matched_by(verified.tee, verified.measurements)
    assert backend.measurement().is_matched_by(verified.tee, verified.measurements)


def test_image_is_the_environment_the_node_started_in(root_path: Path) -> None:
    other = bytes.fromhex("0e" * 48)
    backend = SimulatedBackend(
        root_path=root_path,
        runtime=RUNTIME,
        fingerprint=FINGERPRINT,
        security_config_digest=CONFIG_DIGEST,
        image=other,
        clock=lambda: NOW,
    )
    verified = verify_simulated_quote(
        backend.quote(bytes(64)), root_public_key=backend.root_public_key, now=NOW
    )
    assert verified.measurements["image"] == other.hex()
    with pytest.raises(ValueError, match="48 bytes"):
        _backend_with_image(root_path, b"short")


def _backend_with_image(root: Path, image: bytes) -> SimulatedBackend:
    return SimulatedBackend(
        root_path=root,
        runtime=RUNTIME,
        fingerprint=FINGERPRINT,
        security_config_digest=CONFIG_DIGEST,
        image=image,
    )


@pytest.mark.parametrize("size", [0, 32, 63, 65])
def test_report_data_must_be_64_bytes(root_path: Path, size: int) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        _backend(root_path).quote(bytes(size))


def test_sealing_key_is_32_bytes_and_stable(root_path: Path) -> None:
    key = _backend(root_path).sealing_key("storage")
    assert len(key) == 32
    assert _backend(root_path).sealing_key("storage") == key


def test_sealing_key_differs_by_label(root_path: Path) -> None:
    backend = _backend(root_path)
    assert backend.sealing_key("storage") != backend.sealing_key("tls")


def test_sealing_key_differs_by_app_fingerprint(root_path: Path) -> None:
    other = _backend(root_path, fingerprint=sha256_tagged(b"other app"))
    assert other.sealing_key("storage") != _backend(root_path).sealing_key("storage")


def test_sealing_key_differs_by_security_config(root_path: Path) -> None:
    other = _backend(root_path, config=bytes(32))
    assert other.sealing_key("storage") != _backend(root_path).sealing_key("storage")


def test_sealing_key_differs_by_runtime_digest(root_path: Path) -> None:
    changed = RuntimeIdentity(version="0.1.0", digest=sha256_tagged(b"patched runtime"))
    other = _backend(root_path, runtime=changed)
    assert other.sealing_key("storage") != _backend(root_path).sealing_key("storage")


def test_sealing_key_differs_by_platform(tmp_path: Path) -> None:
    first = _backend(tmp_path / "a" / "root.pem").sealing_key("storage")
    assert _backend(tmp_path / "b" / "root.pem").sealing_key("storage") != first


@pytest.mark.parametrize("label", ["", "a\x00b", "x" * 129])
def test_bad_sealing_labels_are_refused(root_path: Path, label: str) -> None:
    with pytest.raises(ValueError, match="label"):
        _backend(root_path).sealing_key(label)


def test_extend_app_identity_accepts_the_launch_identity(root_path: Path) -> None:
    backend = _backend(root_path)
    before = backend.measurement()
    backend.extend_app_identity(FINGERPRINT, CONFIG_DIGEST)
    assert backend.measurement() == before


def test_extend_app_identity_refuses_another_app(root_path: Path) -> None:
    with pytest.raises(AppIdentityMismatchError):
        _backend(root_path).extend_app_identity(sha256_tagged(b"evil"), CONFIG_DIGEST)


def test_extend_app_identity_refuses_another_config(root_path: Path) -> None:
    with pytest.raises(AppIdentityMismatchError):
        _backend(root_path).extend_app_identity(FINGERPRINT, bytes(32))


def test_open_backend_simulated(root_path: Path) -> None:
    backend = open_backend(
        "simulated",
        root_path=root_path,
        runtime=RUNTIME,
        fingerprint=FINGERPRINT,
        security_config_digest=CONFIG_DIGEST,
    )
    assert backend.name == "simulated"
    assert backend.tee == Tee.SIMULATED


def test_repr_hides_secrets(root_path: Path) -> None:
    backend = _backend(root_path)
    assert backend.sealing_key("storage").hex() not in repr(backend)
