from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.identity.test_image_reference import snp_document, tdx_document
from veil.cli.main import main
from veil.crypto.digest import sha256_tagged
from veil.crypto.keys import CodeKey
from veil.enclave.backends.simulated import SimulatedBackend
from veil.errors import ConfigError
from veil.identity.app import (
    gramine_manifest_inputs,
    security_config_digest,
    snp_host_data,
    tdx_rtmr_event,
)
from veil.identity.environment import simulated_image_reference
from veil.identity.image import guest_measurement
from veil.identity.reference import ImageReference
from veil.identity.runtime import RuntimeIdentity, runtime_identity
from veil.package.encrypted import read_package_header, write_package
from veil.package.source import AppSource

PINNED_RUNTIME = RuntimeIdentity(version="9.9.9", digest=sha256_tagged(b"a runtime release"))


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("app")
    (root / "veil.toml").write_text('name = "demo"\npython_application = "app:app"\n')
    (root / "app.py").write_text("def app(environ, start_response):\n    return []\n")
    destination = root.parent / "demo.veil"
    write_package(AppSource.load(root), destination, key=CodeKey.generate())
    return destination


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    return document


def _pinned() -> list[str]:
    return [
        "--runtime-version",
        PINNED_RUNTIME.version,
        "--runtime-digest",
        PINNED_RUNTIME.digest,
    ]


def test_measure_equals_the_simulated_backend(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _json(capsys, ["measure", str(package), "--json", *_pinned()])
    header = read_package_header(package)
    backend = SimulatedBackend(
        root_path=tmp_path / "root.pem",
        runtime=PINNED_RUNTIME,
        fingerprint=header.fingerprint,
        security_config_digest=security_config_digest(header.security_config_json),
    )
    assert report["measurement"] == backend.measurement().to_json()
    assert report["fingerprint"] == header.fingerprint
    assert report["app"] == "demo"
    assert report["runtime"] == PINNED_RUNTIME.to_json()


def test_measure_defaults_to_the_installed_runtime(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Other files of the tree may change while the suite runs: accept the identity from just
    # before or just after the command.
    before = runtime_identity().to_json()
    report = _json(capsys, ["measure", str(package), "--json"])
    assert report["runtime"] in (before, runtime_identity().to_json())


def test_measure_configfs_tdx(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zero = _json(
        capsys, ["measure", str(package), "--backend", "configfs-tsm", "--json", *_pinned()]
    )
    moved = _json(
        capsys,
        [
            "measure",
            str(package),
            "--backend",
            "configfs-tsm",
            "--rtmr-initial",
            "11" * 48,
            "--json",
            *_pinned(),
        ],
    )
    assert zero["measurement"]["tee"] == "tdx"  # type: ignore[index]
    assert set(zero["measurement"]["values"]) == {"rtmr3"}  # type: ignore[index]
    assert zero["measurement"] != moved["measurement"]


def test_measure_configfs_snp(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(
        capsys,
        ["measure", str(package), "--backend", "configfs-tsm", "--tee", "sev-snp", "--json"],
    )
    assert set(report["measurement"]["values"]) == {"host_data"}  # type: ignore[index]


def test_measure_gramine_prints_manifest_inputs(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _json(
        capsys, ["measure", str(package), "--backend", "gramine-sgx", "--json", *_pinned()]
    )
    header = read_package_header(package)
    assert report["measurement"] is None
    assert "gramine-sgx-sign" in str(report["note"])
    assert report["gramine_manifest_inputs"] == gramine_manifest_inputs(
        runtime=PINNED_RUNTIME,
        fingerprint=header.fingerprint,
        security_config_digest=security_config_digest(header.security_config_json),
    )


def test_measure_human_output(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", str(package), *_pinned()]) == 0
    out = capsys.readouterr().out
    assert "measurement = " in out
    assert "protects nothing" in out


@pytest.mark.parametrize(
    "extra",
    [
        ["--rtmr-initial", "00"],
        ["--rtmr-initial", "zz" * 48],
        ["--runtime-version", "1.0"],
    ],
)
def test_measure_refuses_bad_options(
    package: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert main(["measure", str(package), "--backend", "configfs-tsm", *extra]) == 5
    assert "error" in capsys.readouterr().err


def test_measure_missing_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", str(tmp_path / "absent.veil")]) == 6
    assert "cannot read" in capsys.readouterr().err


def test_measure_not_a_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "bogus.veil"
    bogus.write_bytes(b"not a package at all" * 10)
    assert main(["measure", str(bogus)]) == 2
    assert "not a veil package" in capsys.readouterr().err


def test_veil_measure_console_script(package: Path) -> None:
    script = Path(sys.executable).with_name("veil")
    result = subprocess.run(
        [str(script), "measure", str(package), "--json", *_pinned()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["measurement"]["tee"] == "simulated"
    assert len(report["measurement"]["values"]["measurement"]) == 96


def _image_file(tmp_path: Path, tee: str) -> Path:
    path = tmp_path / f"{tee}.json"
    path.write_text(json.dumps(tdx_document() if tee == "tdx" else snp_document()))
    return path


def test_measure_configfs_prints_what_the_image_builder_publishes(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["measure", str(package), "--backend", "configfs-tsm", *_pinned()]
    report = _json(capsys, [*argv, "--json"])
    header = read_package_header(package)
    event = tdx_rtmr_event(
        PINNED_RUNTIME, header.fingerprint, security_config_digest(header.security_config_json)
    )
    assert report["app_register"] == {"name": "rtmr3_event", "value": event.hex()}
    assert report["image"] is None
    template = report["image_reference_template"]
    assert isinstance(template, dict)
    assert template["format"] == "veil-image-reference"
    assert set(template["measurements"]) == {"mr_td", "rtmr0", "rtmr1", "rtmr2"}
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"app register rtmr3_event = {event.hex()}" in out
    assert "veil-image-reference" in out


def test_measure_with_an_image_gives_the_whole_guest_measurement(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = read_package_header(package)
    config_digest = security_config_digest(header.security_config_json)
    for tee in ("tdx", "sev-snp"):
        report = _json(
            capsys,
            [
                "measure",
                str(package),
                "--backend",
                "configfs-tsm",
                "--tee",
                tee,
                "--image",
                str(_image_file(tmp_path, tee)),
                "--json",
                *_pinned(),
            ],
        )
        image = ImageReference.from_json(_image_file(tmp_path, tee).read_bytes())
        compute = tdx_rtmr_event if tee == "tdx" else snp_host_data
        app_register = compute(PINNED_RUNTIME, header.fingerprint, config_digest)
        assert report["measurement"] == guest_measurement(image, app_register).to_json()
        assert report["image"] == image.to_json()


@pytest.mark.parametrize(
    "extra",
    [
        ["--backend", "simulated", "--image", "x.json"],
        ["--backend", "configfs-tsm", "--tee", "sev-snp", "--image", "TDX"],
        ["--backend", "configfs-tsm", "--image", "TDX", "--rtmr-initial", "11" * 48],
        ["--backend", "configfs-tsm", "--image", "missing.json"],
    ],
)
def test_measure_refuses_bad_image_options(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    extra = [str(_image_file(tmp_path, "tdx")) if item == "TDX" else item for item in extra]
    assert main(["measure", str(package), *extra]) != 0
    assert "error" in capsys.readouterr().err


def test_measure_prints_this_machines_simulated_image(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    here = simulated_image_reference().to_json()
    report = _json(capsys, ["measure", "--backend", "simulated", "--json"])
    assert report["image"] == here
    assert ImageReference.from_json(json.dumps(report["image"]).encode()).tee.value == "simulated"
    assert isinstance(report["environment"], dict)
    with_package = _json(capsys, ["measure", str(package), "--json"])
    assert with_package["image"] == here
    measurement = with_package["measurement"]
    assert isinstance(measurement, dict)
    assert measurement["values"]["image"] == simulated_image_reference().registers["image"]
    assert main(["measure", "--backend", "simulated"]) == 0
    assert '"tee": "simulated"' in capsys.readouterr().out
    assert main(["measure", "--backend", "configfs-tsm"]) == ConfigError.exit_code
