"""``veil measure PACKAGE``: the measurement a verifier should expect for a package."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape

from veil.attestation.result import Tee
from veil.cli._output import emit_json, out_console
from veil.enclave.identity import (
    BACKEND_NAMES,
    RTMR_SIZE,
    RuntimeIdentity,
    expected_measurement,
    gramine_manifest_inputs,
    render_app_identity_file,
    runtime_identity,
    security_config_digest,
)
from veil.errors import ConfigError
from veil.package.encrypted import read_package_header

__all__ = ["register"]

_GRAMINE_NOTE = (
    "MRENCLAVE can only be computed by gramine-sgx-sign over veil.manifest.template rendered "
    "with these inputs (plus the interpreter, libraries and runtime it lists as trusted files)"
)
_TEES = {"tdx": Tee.TDX, "sev-snp": Tee.SEV_SNP}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "measure",
        help="print the measurement a verifier should expect for a package",
        description=(
            "Compute, from the package header alone (no code key), the measurement an enclave "
            "running this package on the given backend must report."
        ),
    )
    parser.add_argument("package", type=Path, metavar="PACKAGE", help="encrypted .veil package")
    parser.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default="simulated",
        help="TEE backend (default: %(default)s)",
    )
    parser.add_argument(
        "--tee",
        choices=sorted(_TEES),
        default="tdx",
        help="configfs-tsm only: the guest's TEE (default: %(default)s)",
    )
    parser.add_argument(
        "--rtmr-initial",
        metavar="HEX",
        help="configfs-tsm on TDX only: RTMR3 before veil extends it (default: 48 zero bytes)",
    )
    parser.add_argument(
        "--runtime-version",
        metavar="VERSION",
        help="expect this runtime release instead of the installed one (with --runtime-digest)",
    )
    parser.add_argument(
        "--runtime-digest",
        metavar="sha256:HEX",
        help="expect this runtime digest instead of the installed runtime's",
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=_handle)


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


def _handle(args: argparse.Namespace) -> int:
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
