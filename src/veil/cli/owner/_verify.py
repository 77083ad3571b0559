"""The ``veil verify`` handler, owner's form and user's (parser in ``owner._deploy_parsers``)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from rich.markup import escape

from veil.attestation.result import Tee
from veil.cli._options import at, image, nonce, simulation_root
from veil.cli._output import emit_json, out_console, warn
from veil.client.expect import ExpectedApp, pinned_runtime
from veil.client.verify import ServerVerification, verify_server
from veil.errors import ConfigError, InvalidDataError, OperationError
from veil.identity.reference import ImageReference
from veil.owner.verify import read_evidence_file, verify_owner_evidence

__all__ = ["render_compared", "scenario_text", "verify_command"]


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
    enclave = verify_owner_evidence(
        document,
        Path(args.package),
        now=at(args),
        allow_simulated_insecure=args.allow_simulated_insecure,
        simulation_root_public_key=simulation_root(args),
        runtime=pinned_runtime(args.runtime_digest, args.runtime_version),
        image=image(args),
        expected_nonce=nonce(args),
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
    render_compared(enclave.compared, enclave.image)
    out_console.print(f"  tls          {scenario_text(enclave.tls_scenario)}")
    if args.output:
        out_console.print(f"  certificate  {escape(args.output)}")
    return 0


def render_compared(compared: Mapping[str, str], reference: ImageReference | None) -> None:
    if reference is not None:
        out_console.print(f"  image        {escape(reference.describe())}", soft_wrap=True)
    if not compared:
        out_console.print("  compared     (no register)")
        return
    out_console.print("  compared     " + " ".join(compared))
    for name, value in compared.items():
        out_console.print(f"    {name:<12} {value}", soft_wrap=True)


def _expected(args: argparse.Namespace) -> ExpectedApp | None:
    return ExpectedApp.from_options(
        fingerprint=args.fingerprint,
        package=Path(args.package) if args.package else None,
        source=Path(args.source) if args.source else None,
        runtime_digest=args.runtime_digest,
        runtime_version=args.runtime_version,
        image=image(args),
        find_links=args.wheels_from,
        no_index=args.no_index,
    )


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
    render_compared(result.compared, None)


def _verify_url(args: argparse.Namespace) -> int:
    result = verify_server(
        args.target,
        expected=_expected(args),
        allow_simulated_insecure=args.allow_simulated_insecure,
        simulation_root_public_key=simulation_root(args),
        now=at(args),
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


def scenario_text(scenario: str) -> str:
    if scenario == "operator":
        return "operator (NOT end to end: the operator's certificate serves the app)"
    return scenario
