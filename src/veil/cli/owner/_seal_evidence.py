"""Handler of ``veil seal SECRETS.json --evidence evidence.json``: seal the owner's secrets to a
verified enclave (parser in :mod:`veil.cli.owner._key_parsers`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape

from veil.cli._options import at, image, nonce, simulation_root
from veil.cli._output import emit_json, out_console, warn
from veil.cli.owner._verify import scenario_text
from veil.crypto.keyfiles import PUBLIC_FILE_MODE, write_key_file
from veil.crypto.keys import read_code_key
from veil.errors import ConfigError
from veil.owner.seal import OwnerTls, build_payload, read_app_secrets, seal_for_enclave
from veil.owner.verify import read_evidence_file, verify_owner_evidence

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
    enclave = verify_owner_evidence(
        read_evidence_file(Path(args.evidence)),
        args.package,
        now=at(args),
        allow_simulated_insecure=args.allow_simulated_insecure,
        simulation_root_public_key=simulation_root(args),
        image=image(args),
        expected_nonce=nonce(args),
    )
    tls = OwnerTls.from_files(args.tls_cert, args.tls_key) if args.tls_cert else None
    app_secrets = read_app_secrets(Path(args.input)) if args.input != "-" else {}
    payload = build_payload(
        enclave,
        code_key=read_code_key(args.key),
        app_secrets=app_secrets,
        tls=tls,
        now=datetime.now(UTC),
    )
    envelope = seal_for_enclave(enclave, payload)
    write_key_file(Path(args.output), envelope, overwrite=False, mode=PUBLIC_FILE_MODE)
    result = {
        "output": args.output,
        "instance_id": enclave.instance_id,
        "fingerprint": enclave.fingerprint,
        "tee": enclave.evidence.verified_quote.tee.value,
        "tls_scenario": enclave.tls_scenario,
        "bytes": len(envelope),
    }
    if args.json:
        emit_json(result)
        return 0
    if result["tee"] == "simulated":
        warn("sealed to a SIMULATED enclave: the operator can read these secrets")
    out_console.print(
        f"sealed {len(app_secrets)} app secret(s) and the code key to instance "
        f"{enclave.instance_id} ({enclave.fingerprint}) into {escape(args.output)}",
        soft_wrap=True,
    )
    out_console.print(f"  tls          {scenario_text(enclave.tls_scenario)}")
    return 0
