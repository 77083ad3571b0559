"""The ``veil measure`` handler (parser in :mod:`veil.cli.measure`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from veil.attestation.result import Tee
from veil.cli._output import emit_json, out_console
from veil.errors import ConfigError
from veil.identity.app import (
    RTMR_SIZE,
    expected_measurement,
    gramine_manifest_inputs,
    render_app_identity_file,
    security_config_digest,
    snp_host_data,
    tdx_rtmr_event,
)
from veil.identity.environment import SIMULATED_IMAGE_REGISTER, python_environment
from veil.identity.image import APP_REGISTER, guest_measurement
from veil.identity.reference import image_reference_template, read_image_reference
from veil.identity.runtime import RuntimeIdentity, runtime_identity
from veil.package.encrypted import read_package_header

__all__ = ["measure_command"]

_GRAMINE_NOTE = (
    "MRENCLAVE can only be computed by gramine-sgx-sign over veil.manifest.template rendered "
    "with these inputs (plus the interpreter, libraries and runtime it lists as trusted files)"
)
_TEES = {"tdx": Tee.TDX, "sev-snp": Tee.SEV_SNP}


def _runtime(args: argparse.Namespace) -> RuntimeIdentity:
    if (args.runtime_version is None) != (args.runtime_digest is None):
        raise ConfigError("--runtime-version and --runtime-digest go together")
    if args.runtime_version is not None:
        return RuntimeIdentity(version=args.runtime_version, digest=args.runtime_digest)
    return runtime_identity()


def _rtmr_initial(text: str | None) -> bytes:
    if text is None:
        return bytes(RTMR_SIZE)
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise ConfigError("--rtmr-initial must be hexadecimal") from None
    if len(value) != RTMR_SIZE:
        raise ConfigError(f"--rtmr-initial must be {RTMR_SIZE} bytes ({2 * RTMR_SIZE} hex digits)")
    return value


def _simulated_image_report() -> dict[str, Any]:
    """This machine's simulated image: the reference document and what it was computed from."""
    environment = python_environment()
    return {"image": environment.reference().to_json(), "environment": environment.to_json()}


def measure_command(args: argparse.Namespace) -> int:
    if args.image is not None and args.backend != "configfs-tsm":
        raise ConfigError("--image is for the configfs-tsm backend (TDX, SEV-SNP)")
    if args.package is None:
        if args.backend != "simulated":
            raise ConfigError(f"give the PACKAGE to measure for the {args.backend} backend")
        report_only: dict[str, Any] = {"backend": args.backend, **_simulated_image_report()}
        if args.json:
            emit_json(report_only)
        else:
            _render_simulated_image(report_only["image"])
        return 0
    header = read_package_header(args.package)
    runtime = _runtime(args)
    config_digest = security_config_digest(header.security_config_json)
    report: dict[str, Any] = {
        "package": str(args.package),
        "app": header.app_name,
        "fingerprint": header.fingerprint,
        "security_config_digest": config_digest.hex(),
        "runtime": runtime.to_json(),
        "backend": args.backend,
    }
    if args.backend == "gramine-sgx":
        report["measurement"] = None
        report["gramine_manifest_inputs"] = gramine_manifest_inputs(
            runtime=runtime, fingerprint=header.fingerprint, security_config_digest=config_digest
        )
        report["app_identity_file"] = render_app_identity_file(
            header.fingerprint, config_digest
        ).decode("ascii")
        report["note"] = _GRAMINE_NOTE
    elif args.backend == "configfs-tsm":
        report |= _guest_report(args, runtime, header.fingerprint, config_digest)
    else:
        measurement = expected_measurement(
            backend=args.backend,
            runtime=runtime,
            fingerprint=header.fingerprint,
            security_config_digest=config_digest,
            rtmr_initial=_rtmr_initial(args.rtmr_initial),
        )
        image_report = _simulated_image_report()
        image_value = image_report["image"]["measurements"][SIMULATED_IMAGE_REGISTER]
        report["measurement"] = {
            **measurement.to_json(),
            "values": {**measurement.values, SIMULATED_IMAGE_REGISTER: image_value},
        }
        report |= image_report
    if args.json:
        emit_json(report)
        return 0
    _render(report)
    return 0


def _guest_report(
    args: argparse.Namespace, runtime: RuntimeIdentity, fingerprint: str, config_digest: bytes
) -> dict[str, Any]:
    """TDX / SEV-SNP: the app register veil records, and what the image builder publishes."""
    tee = _TEES[args.tee]
    if tee is Tee.TDX:
        app_register = tdx_rtmr_event(runtime, fingerprint, config_digest)
    else:
        app_register = snp_host_data(runtime, fingerprint, config_digest)
    report: dict[str, Any] = {
        # The RTMR3 event veil extends, or the HOST_DATA the guest must be launched with.
        "app_register": {
            "name": "rtmr3_event" if tee is Tee.TDX else APP_REGISTER[tee],
            "value": app_register.hex(),
        },
    }
    if args.image is None:
        report["measurement"] = expected_measurement(
            backend="configfs-tsm",
            runtime=runtime,
            fingerprint=fingerprint,
            security_config_digest=config_digest,
            tee=tee,
            rtmr_initial=_rtmr_initial(args.rtmr_initial),
        ).to_json()
        report["image"] = None
        report["image_reference_template"] = image_reference_template(tee)
        return report
    if args.rtmr_initial is not None:
        raise ConfigError("--rtmr-initial and --image exclude each other: the image's events count")
    image = read_image_reference(Path(args.image))
    if image.tee is not tee:
        raise ConfigError(f"--image is a {image.tee.value} image; pass --tee {image.tee.value}")
    report["measurement"] = guest_measurement(image, app_register).to_json()
    report["image"] = image.to_json()
    return report


def _render(report: dict[str, Any]) -> None:
    out_console.print(f"app          {escape(report['app'])}")
    out_console.print(f"fingerprint  {report['fingerprint']}")
    runtime = report["runtime"]
    out_console.print(f"runtime      veil {escape(runtime['version'])} {runtime['digest']}")
    out_console.print(f"backend      {report['backend']}")
    measurement = report["measurement"]
    if measurement is None:
        out_console.print("manifest inputs (gramine-manifest -D):")
        for name, value in report["gramine_manifest_inputs"].items():
            out_console.print(f"  {name}={escape(value)}")
        out_console.print(f"note: {report['note']}")
        return
    app_register = report.get("app_register")
    if app_register is not None:
        out_console.print(
            f"app register {app_register['name']} = {app_register['value']}", soft_wrap=True
        )
    out_console.print(f"expected measurement ({measurement['tee']}):")
    for name, value in measurement["values"].items():
        out_console.print(f"  {name} = {value}")
    template = report.get("image_reference_template")
    if template is not None:
        out_console.print(
            "without the image registers: verifiers refuse TDX and SEV-SNP evidence unless "
            "given the guest image's reference values (--image). The image builder publishes "
            "(docs/formats.md, 'Image reference values'):"
        )
        out_console.print(escape(json.dumps(template, indent=2)), soft_wrap=True)
    if measurement["tee"] == Tee.SIMULATED.value:
        _render_simulated_image(report["image"])
        out_console.print(
            "note: the simulated backend protects nothing; policies refuse it by default"
        )


def _render_simulated_image(document: dict[str, Any]) -> None:
    out_console.print(
        "simulated image reference values of this machine (its Python environment; verifiers "
        "here use them by default, elsewhere pin them with --image FILE):"
    )
    out_console.print(escape(json.dumps(document, indent=2)), soft_wrap=True)
