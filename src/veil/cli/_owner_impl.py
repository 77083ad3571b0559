"""Handlers of ``veil verify`` and ``veil seal --evidence`` (imported only when one runs;
``veil deploy`` is in :mod:`veil.cli._deploy_impl`)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape

from veil.attestation.result import Tee
from veil.cli._output import emit_json, out_console, warn
from veil.client.expect import ExpectedApp, runtime_pin
from veil.client.verify import ServerVerification, verify_server
from veil.crypto.keyfiles import PUBLIC_FILE_MODE, write_key_file
from veil.crypto.keys import read_code_key
from veil.errors import ConfigError, InvalidDataError, OperationError
from veil.host.homes import OperatorHome
from veil.host.simulation import simulation_root_public_key
from veil.identity.reference import ImageReference, read_image_reference
from veil.identity.runtime import RuntimeIdentity
from veil.owner.seal import OwnerTls, build_payload, read_app_secrets, seal_for_enclave
from veil.owner.verify import read_evidence_file, verify_owner_evidence
from veil.ratls.freshness import parse_nonce_hex

__all__ = [
    "parse_time",
    "seal_evidence_command",
    "simulation_root_for",
    "verify_command",
]


def parse_time(text: str | None) -> datetime:
    """``--at`` (RFC 3339) or now; a naive time is read as UTC."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as e:
        raise ConfigError(f"--at {text!r} is not an RFC 3339 date-time") from e
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def simulation_root_for(args: argparse.Namespace) -> bytes | None:
    if not args.allow_simulated_insecure or args.simulation_root == "evidence":
        return None
    if args.simulation_root != "auto":
        raise ConfigError("--simulation-root must be 'auto' or 'evidence'")
    home = OperatorHome.from_env()
    return simulation_root_public_key(home) if home.simulation_root.is_file() else None


def verify_command(args: argparse.Namespace) -> int:
    if args.target is not None:
        if args.evidence:
            raise ConfigError("give either a URL or --evidence with --package, not both")
        run = _verify_url
    else:
        if args.fingerprint or args.source or args.allow_operator_tls:
            raise ConfigError(
                "--fingerprint, --source and --allow-operator-tls are for verifying a URL"
            )
        if not (args.evidence and args.package):
            raise ConfigError(
                "give https://HOST:PORT (user), or --evidence evidence.json --package FILE.veil "
                "(owner)"
            )
        run = _verify_evidence
    try:
        return run(args)
    except InvalidDataError as e:
        if not args.json:
            raise
        # A verdict is a result too: --json reports refusals on stdout, with the exit code.
        emit_json({"verified": False, "error": str(e), "kind": type(e).__name__})
        return e.exit_code


def _write_output(path: str | None, data: bytes) -> None:
    if path is None:
        return
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise OperationError(f"cannot write {path}: {e.strerror or e}") from e


def _verify_evidence(args: argparse.Namespace) -> int:
    document = read_evidence_file(Path(args.evidence))
    root = simulation_root_for(args)
    enclave = verify_owner_evidence(
        document,
        Path(args.package),
        now=parse_time(args.at),
        allow_simulated_insecure=args.allow_simulated_insecure,
        simulation_root_public_key=root,
        runtime=_runtime_pin(args),
        image=_image(args),
        expected_nonce=_nonce(args),
    )
    _write_output(args.output, enclave.ratls_certificate_pem)
    simulated = enclave.evidence.verified_quote.tee is Tee.SIMULATED
    if args.json:
        emit_json({**enclave.to_json(), "certificate": args.output})
        return 0
    if simulated:
        warn("the evidence is SIMULATED: it proves nothing about confidentiality")
    out_console.print(
        f"[bold green]verified[/]: instance {enclave.instance_id} runs "
        f"{escape(enclave.header.app_name)} {enclave.fingerprint}",
        soft_wrap=True,
    )
    out_console.print(f"  tee          {enclave.evidence.verified_quote.tee.value}")
    out_console.print(f"  runtime      {document.runtime.version} {document.runtime.digest}")
    _render_compared(enclave.compared, enclave.image)
    out_console.print(f"  tls          {_scenario_text(enclave.tls_scenario)}")
    if args.output:
        out_console.print(f"  certificate  {escape(args.output)}")
    return 0


def _nonce(args: argparse.Namespace) -> bytes | None:
    """``--nonce HEX`` (owner): the nonce the evidence must answer, or ``None``."""
    text: str | None = getattr(args, "nonce", None)
    return parse_nonce_hex(text) if text is not None else None


def _image(args: argparse.Namespace) -> ImageReference | None:
    """``--image FILE``: the guest image's reference values, or ``None``."""
    return read_image_reference(Path(args.image)) if args.image else None


def _render_compared(compared: Mapping[str, str], image: ImageReference | None) -> None:
    if image is not None:
        out_console.print(f"  image        {escape(image.describe())}", soft_wrap=True)
    if not compared:
        out_console.print("  compared     (no register)")
        return
    out_console.print("  compared     " + " ".join(compared))
    for name, value in compared.items():
        out_console.print(f"    {name:<12} {value}", soft_wrap=True)


def _runtime_pin(args: argparse.Namespace) -> RuntimeIdentity | None:
    """``--runtime-digest``/``--runtime-version``, or ``None`` for the installed runtime."""
    if args.runtime_digest is None:
        if args.runtime_version is not None:
            raise ConfigError("--runtime-version goes with --runtime-digest")
        return None
    return runtime_pin(args.runtime_digest, args.runtime_version)


def _expected(args: argparse.Namespace) -> ExpectedApp | None:
    given = [x for x in (args.fingerprint, args.package, args.source) if x]
    if len(given) > 1:
        raise ConfigError("give at most one of --fingerprint, --package, --source")
    runtime = _runtime_pin(args)
    image = _image(args)
    if args.fingerprint:
        expected = ExpectedApp(fingerprint=args.fingerprint)
    elif args.package:
        expected = ExpectedApp.from_package(Path(args.package))
    elif args.source:
        # The source's veil.toml may name the image ([attestation] image); --image wins.
        expected = ExpectedApp.from_source(
            Path(args.source), find_links=args.wheels_from, no_index=args.no_index
        )
    elif runtime is not None:
        raise ConfigError("--runtime-digest needs an expected app (--fingerprint, --package, …)")
    elif image is not None:
        return ExpectedApp(image=image)
    else:
        return None
    if image is not None:
        expected = replace(expected, image=image)
    return expected if runtime is None else replace(expected, runtime=runtime)


def _render_user(result: ServerVerification) -> None:
    out_console.print(f"[bold green]verified[/] {result.url}: an attested enclave answers")
    out_console.print(f"  tee          {result.verified_quote.tee.value}")
    out_console.print(f"  scenario     {result.scenario}")
    out_console.print(f"  app          {result.app_name or '?'} {result.fingerprint or ''}")
    out_console.print(f"  end to end   {'yes' if result.end_to_end else 'NO'}")
    out_console.print(f"  code checked {'yes' if result.code_checked else 'NO'}")
    measurement = (
        "yes (recomputed for the trusted runtime and this app)"
        if result.measurement_checked
        else "NO"
    )
    out_console.print(f"  measurement  {measurement}")
    _render_compared(result.compared, None)


def _verify_url(args: argparse.Namespace) -> int:
    result = verify_server(
        args.target,
        expected=_expected(args),
        allow_simulated_insecure=args.allow_simulated_insecure,
        simulation_root_public_key=simulation_root_for(args),
        now=parse_time(args.at),
        allow_operator_tls=args.allow_operator_tls,
    )
    # Only now, verified: a refused server's certificate is never written for curl to trust.
    _write_output(args.output, result.certificate_pem)
    if args.json:
        emit_json({**result.to_json(), "certificate": args.output})
        return 0
    _render_user(result)
    for note in result.notes:
        warn(note)
    if args.output:
        out_console.print(
            f"saved the verified certificate to {escape(args.output)}: "
            f"curl --cacert {escape(args.output)} {result.url}/",
            soft_wrap=True,
        )
    return 0


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
        now=parse_time(args.at),
        allow_simulated_insecure=args.allow_simulated_insecure,
        simulation_root_public_key=simulation_root_for(args),
        image=_image(args),
        expected_nonce=_nonce(args),
    )
    tls = OwnerTls.from_files(args.tls_cert, args.tls_key) if args.tls_cert else None
    app_secrets = read_app_secrets(Path(args.input)) if args.input != "-" else {}
    payload = build_payload(
        enclave,
        code_key=read_code_key(args.key),
        app_secrets=app_secrets,
        tls=tls,
        now=parse_time(None),
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
    out_console.print(f"  tls          {_scenario_text(enclave.tls_scenario)}")
    return 0


def _scenario_text(scenario: str) -> str:
    if scenario == "operator":
        return "operator (NOT end to end: the operator's certificate serves the app)"
    return scenario
