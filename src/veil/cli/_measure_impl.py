"""The ``veil measure`` handler (parser in :mod:`veil.cli.measure`)."""

from __future__ import annotations

import argparse
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
)
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


def measure_command(args: argparse.Namespace) -> int:
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
    else:
        measurement = expected_measurement(
            backend=args.backend,
            runtime=runtime,
            fingerprint=header.fingerprint,
            security_config_digest=config_digest,
            tee=_TEES[args.tee] if args.backend == "configfs-tsm" else None,
            rtmr_initial=_rtmr_initial(args.rtmr_initial),
        )
        report["measurement"] = measurement.to_json()
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
    out_console.print(f"expected measurement ({measurement['tee']}):")
    for name, value in measurement["values"].items():
        out_console.print(f"  {name} = {value}")
    if measurement["tee"] == Tee.SIMULATED.value:
        out_console.print(
            "note: the simulated backend protects nothing; policies refuse it by default"
        )
