"""Attacks through ``node.json``: the host may not choose what ties an enclave to its app.

DESIGN.md, "Identity model": every input that can change what runs inside the TEE is either
measured into the attested identity or refused. ``node.json`` is written by the host, so its
``backend_options`` may only carry what cannot change the identity (threat-model.md, H1-H3).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.enclave._node_helpers import make_package, write_app
from veil.crypto.digest import sha256_tagged
from veil.enclave.backends.errors import BackendConfigError
from veil.enclave.instance import EnclaveInstance, read_header
from veil.enclave.spec import NodeSpec
from veil.identity.app import render_app_identity_file
from veil.package.encrypted import PackageHeader

#: The app the attacker wants to run inside an enclave measured for another app.
ATTACKER_FINGERPRINT = sha256_tagged(b"the operator's own app")


@pytest.fixture(scope="module")
def header_and_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[PackageHeader, Path]:
    work = tmp_path_factory.mktemp("host-options")
    package = make_package(write_app(work / "app"), work / "app.veil")
    spec = _spec(package.path, "simulated", {})
    return read_header(spec), package.path


def _spec(package: Path, backend: str, options: dict[str, object]) -> NodeSpec:
    return NodeSpec(
        name="victim",
        instance_id="00" * 16,
        package=package,
        port=8443,
        backend=backend,
        backend_options=options,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _fake_gramine_dir(directory: Path) -> Path:
    """What a host can lay out as a stand-in for /dev/attestation."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "attestation_type").write_text("dcap\n")
    (directory / "user_report_data").write_bytes(bytes(64))
    (directory / "quote").write_bytes(b"")
    return directory


def test_gramine_identity_file_and_environ_from_node_json_are_refused(
    tmp_path: Path, header_and_package: tuple[PackageHeader, Path]
) -> None:
    """Finding 1: the host points the backend at its own identity file and environment."""
    header, package = header_and_package
    identity = tmp_path / "attacker-identity.json"
    identity.write_bytes(render_app_identity_file(header.fingerprint, bytes(32)))
    spec = _spec(
        package,
        "gramine-sgx",
        {
            "attestation_dir": str(_fake_gramine_dir(tmp_path / "dev-attestation")),
            "identity_file": str(identity),
            "environ": {"VEIL_APP_FINGERPRINT": header.fingerprint},
        },
    )
    with pytest.raises(BackendConfigError, match="may not be set by the host for gramine-sgx"):
        EnclaveInstance.create(spec, header, now=datetime.now(UTC))


@pytest.mark.parametrize(
    "option",
    [
        {"identity_file": "/tmp/identity.json"},
        {"environ": {"VEIL_APP_FINGERPRINT": ATTACKER_FINGERPRINT}},
        {"attestation_dir": "/tmp/fake-dev-attestation"},
    ],
)
def test_each_gramine_option_is_refused(
    option: dict[str, object], header_and_package: tuple[PackageHeader, Path]
) -> None:
    header, package = header_and_package
    with pytest.raises(BackendConfigError, match="may not be set by the host"):
        EnclaveInstance.create(_spec(package, "gramine-sgx", option), header, now=datetime.now(UTC))


@pytest.mark.parametrize(
    "option",
    [
        {"report_dir": "/tmp/fake-tsm-report"},
        {"rtmr_path": "/tmp/fake-rtmr3"},
        {"allow_unmeasured_app_insecure": True},
    ],
)
def test_configfs_paths_and_insecure_switch_are_refused(
    option: dict[str, object], header_and_package: tuple[PackageHeader, Path]
) -> None:
    """Finding 1, configfs-tsm: a host file could answer for the TSM report or the RTMR."""
    header, package = header_and_package
    spec = _spec(package, "configfs-tsm", option)
    with pytest.raises(BackendConfigError, match="may not be set by the host for configfs-tsm"):
        EnclaveInstance.create(spec, header, now=datetime.now(UTC))


def test_node_json_cannot_switch_a_measured_enclave_to_another_backend(
    tmp_path: Path,
    header_and_package: tuple[PackageHeader, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Gramine manifest measures VEIL_BACKEND; node.json asking for simulated is refused."""
    header, package = header_and_package
    monkeypatch.setenv("VEIL_BACKEND", "gramine-sgx")
    spec = _spec(package, "simulated", {"root_key": str(tmp_path / "root.pem")})
    with pytest.raises(BackendConfigError, match="built for 'gramine-sgx'"):
        EnclaveInstance.create(spec, header, now=datetime.now(UTC))


def test_simulated_root_is_still_host_chosen(
    tmp_path: Path, header_and_package: tuple[PackageHeader, Path]
) -> None:
    """The simulated backend protects nothing; its root key is the host's by design."""
    header, package = header_and_package
    spec = _spec(package, "simulated", {"root_key": str(tmp_path / "sim" / "root.pem")})
    instance = EnclaveInstance.create(spec, header, now=datetime.now(UTC))
    assert instance.backend.name == "simulated"


def test_unknown_simulated_option_is_refused(
    tmp_path: Path, header_and_package: tuple[PackageHeader, Path]
) -> None:
    header, package = header_and_package
    spec = _spec(package, "simulated", {"root_key": str(tmp_path / "r.pem"), "fingerprint": "x"})
    with pytest.raises(BackendConfigError, match="fingerprint may not be set by the host"):
        EnclaveInstance.create(spec, header, now=datetime.now(UTC))
