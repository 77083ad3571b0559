"""The ``veil measure`` handler (parser in :mod:`veil.cli.owner._build_parsers`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.markup import escape

from veil.attestation.result import Tee
from veil.cli._options import image
from veil.cli._output import emit_json, out_console
from veil.errors import ConfigError
from veil.identity.app import RTMR_SIZE
from veil.identity.report import measurement_report, simulated_image_report
from veil.identity.runtime import RuntimeIdentity, runtime_identity
from veil.package.encrypted import read_package_header

__all__ = ["measure_command"]

_TEES = {"tdx": Tee.TDX, "sev-snp": Tee.SEV_SNP}


def _runtime(args: argparse.Namespace) -> RuntimeIdentity:
    if (args.runtime_version is None) != (args.runtime_digest is None):
        raise ConfigError("--runtime-version and --runtime-digest go together")
    if args.runtime_version is not None:
        return RuntimeIdentity(version=args.runtime_version, digest=args.runtime_digest)
    return runtime_identity()


def _rtmr_initial(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise ConfigError("--rtmr-initial must be hexadecimal") from None
    if len(value) != RTMR_SIZE:
        raise ConfigError(f"--rtmr-initial must be {RTMR_SIZE} bytes ({2 * RTMR_SIZE} hex digits)")
    return value


def measure_command(args: argparse.Namespace) -> int:
    if args.image is not None and args.backend != "configfs-tsm":
        raise ConfigError("--image is for the configfs-tsm backend (TDX, SEV-SNP)")
    if args.package is None:
        if args.backend != "simulated":
            raise ConfigError(f"give the PACKAGE to measure for the {args.backend} backend")
        report_only: dict[str, Any] = {"backend": args.backend, **simulated_image_report()}
        if args.json:
            emit_json(report_only)
        else:
            _render_simulated_image(report_only["image"])
        return 0
    header = read_package_header(args.package)
    runtime = _runtime(args)
    tee = _TEES[args.tee]
    if args.image is not None and args.rtmr_initial is not None:
        raise ConfigError("--rtmr-initial and --image exclude each other: the image's events count")
    rtmr_initial = _rtmr_initial(args.rtmr_initial) if args.backend != "gramine-sgx" else None
    reference = image(args)
    if reference is not None and reference.tee is not tee:
        name = reference.tee.value
        raise ConfigError(f"--image is a {name} image; pass --tee {name}")
    report = {
        "package": str(args.package),
        **measurement_report(
            app_name=header.app_name,
            fingerprint=header.fingerprint,
            security_config_json=header.security_config_json,
            runtime=runtime,
            backend=args.backend,
            tee=tee,
            rtmr_initial=rtmr_initial,
            image=reference,
        ),
    }
    if args.json:
        emit_json(report)
        return 0
    _render(report)
    return 0


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
