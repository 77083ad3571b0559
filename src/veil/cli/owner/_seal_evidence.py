"""The ``veil seal --evidence`` handler (parser in :mod:`veil.cli.owner._key_parsers`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape

from veil.cli._options import at, image, nonce, simulation_root
from veil.cli._output import emit_json, out_console, warn
from veil.cli.owner._verify import scenario_text
from veil.errors import ConfigError
from veil.owner.seal import seal_to_evidence

__all__ = ["seal_evidence_command"]


def seal_evidence_command(args: argparse.Namespace) -> int:
    """Verify the evidence against the package, then seal SECRETS.json + code key to it."""
    if args.binding is not None or args.binding_hex is not None:
        raise ConfigError("--evidence fixes the binding itself; do not give --binding")
    if args.package is None or args.key is None:
        raise ConfigError("--evidence needs --package FILE.veil and --key KEYFILE (the code key)")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    if args.output == "-":
        raise ConfigError("write the sealed secrets to a file (-o FILE)")
    sealed = seal_to_evidence(
        Path(args.evidence),
        Path(args.package),
        Path(args.output),
        code_key=Path(args.key),
        app_secrets=Path(args.input) if args.input != "-" else None,
        tls=(Path(args.tls_cert), Path(args.tls_key)) if args.tls_cert else None,
        now=at(args),
        issued_at=datetime.now(UTC),
        allow_simulated_insecure=args.allow_simulated_insecure,
        simulation_root_public_key=simulation_root(args),
        image=image(args),
        expected_nonce=nonce(args),
    )
    enclave = sealed.enclave
    result = {
        "output": args.output,
        "instance_id": enclave.instance_id,
        "fingerprint": enclave.fingerprint,
        "tee": enclave.evidence.verified_quote.tee.value,
        "tls_scenario": enclave.tls_scenario,
        "bytes": sealed.size,
    }
    if args.json:
        emit_json(result)
        return 0
    if result["tee"] == "simulated":
        warn("sealed to a SIMULATED enclave: the operator can read these secrets")
    out_console.print(
        f"sealed {sealed.app_secret_count} app secret(s) and the code key to instance "
        f"{enclave.instance_id} ({enclave.fingerprint}) into {escape(args.output)}",
        soft_wrap=True,
    )
    out_console.print(f"  tls          {scenario_text(enclave.tls_scenario)}")
    return 0
