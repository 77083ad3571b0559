"""Owner and user commands: ``veil deploy`` and ``veil verify`` (evidence file or live URL)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape

from veil.attestation.result import Tee
from veil.cli._output import emit_json, err_console, out_console, warn
from veil.cli.operator import UNTRUSTED_SSL_WARNING
from veil.cli.package import add_vendoring_options
from veil.client.expect import ExpectedApp
from veil.client.verify import ServerVerification, verify_server
from veil.errors import ConfigError, OperationError
from veil.host.simulation import simulation_root_path, simulation_root_public_key
from veil.host.supervisor import DEFAULT_SPAWN_TIMEOUT
from veil.owner.deploy import DEPLOY_STEPS, SIMULATED_WARNING, DeployOptions, deploy
from veil.owner.seal import read_app_secrets
from veil.owner.verify import read_evidence_file, verify_owner_evidence

__all__ = ["add_simulation_options", "parse_time", "register", "simulation_root_for"]

_STEP_LABELS = {
    "package": "packaging the app (archive, fingerprint, encrypt)",
    "spawn": "starting the enclave node",
    "evidence": "fetching the enclave's evidence (fresh nonce)",
    "verify": "verifying the evidence against the package",
    "seal": "sealing the secrets to the verified enclave",
    "provision": "provisioning and waiting for the app to load",
    "healthcheck": "checking the app over the verified TLS channel",
}


def parse_time(text: str | None) -> datetime:
    """``--at`` (RFC 3339) or now; a naive time is read as UTC."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as e:
        raise ConfigError(f"--at {text!r} is not an RFC 3339 date-time") from e
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_simulation_options(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--allow-simulated-insecure",
        action="store_true",
        help="accept SIMULATED evidence (no TEE: proves nothing; test data only)",
    )
    parser.add_argument(
        "--simulation-root",
        metavar="auto|evidence",
        default="auto",
        help=(
            "trust anchor for simulated evidence: 'auto' pins this machine's simulation root "
            "when it exists, else takes the key the evidence carries; 'evidence' always does"
        ),
    )


def simulation_root_for(args: argparse.Namespace) -> bytes | None:
    if not args.allow_simulated_insecure or args.simulation_root == "evidence":
        return None
    if args.simulation_root != "auto":
        raise ConfigError("--simulation-root must be 'auto' or 'evidence'")
    return simulation_root_public_key() if simulation_root_path().is_file() else None


def _deploy(args: argparse.Namespace) -> int:
    if args.backend == "simulated" and args.allow_simulated_insecure:
        warn(SIMULATED_WARNING)
    operator_tls = None
    if args.untrusted_ssl_cert or args.untrusted_ssl_key:
        if not (args.untrusted_ssl_cert and args.untrusted_ssl_key):
            raise ConfigError("--untrusted-ssl-cert and --untrusted-ssl-key go together")
        operator_tls = (Path(args.untrusted_ssl_cert), Path(args.untrusted_ssl_key))
        warn(UNTRUSTED_SSL_WARNING)
    options = DeployOptions(
        name=args.name,
        port=args.port,
        host=args.host,
        backend=args.backend,
        san=args.san,
        allow_simulated_insecure=args.allow_simulated_insecure,
        app_secrets=read_app_secrets(Path(args.secrets)) if args.secrets else {},
        tls_key=Path(args.tls_key) if args.tls_key else None,
        operator_tls=operator_tls,
        wheels_from=args.wheels_from,
        no_index=args.no_index,
        timeout=args.timeout,
    )
    quiet = args.json or not err_console.is_terminal
    if quiet:
        result = deploy(Path(args.directory), options)
    else:
        with err_console.status("deploying") as status:
            done: list[str] = []

            def on_step(step: str) -> None:
                if done:
                    err_console.print(f"[green]✓[/] {_STEP_LABELS[done[-1]]}")
                done.append(step)
                number = DEPLOY_STEPS.index(step) + 1
                status.update(f"[{number}/{len(DEPLOY_STEPS)}] {_STEP_LABELS[step]}")

            result = deploy(Path(args.directory), options, on_step=on_step)
            err_console.print(f"[green]✓[/] {_STEP_LABELS[done[-1]]}")
    if args.json:
        emit_json(result.to_json())
        return 0
    out_console.print(f"[bold green]deployed[/] {escape(result.name)} at {result.url}")
    out_console.print(f"  fingerprint  {result.fingerprint}", soft_wrap=True)
    out_console.print(f"  certificate  {escape(str(result.certificate))}", soft_wrap=True)
    out_console.print(f"  scenario     {result.scenario}")
    out_console.print(
        f"  try:         curl --cacert {escape(str(result.certificate))} {result.url}/",
        soft_wrap=True,
    )
    if not result.end_to_end:
        warn("the TLS channel is NOT end to end: the operator can read the traffic")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if args.target is not None:
        if args.evidence:
            raise ConfigError("give either a URL or --evidence with --package, not both")
        return _verify_url(args)
    if args.fingerprint or args.source:
        raise ConfigError("--fingerprint and --source are for verifying a URL")
    if not (args.evidence and args.package):
        raise ConfigError(
            "give https://HOST:PORT (user), or --evidence evidence.json --package FILE.veil (owner)"
        )
    return _verify_evidence(args)


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
    if args.output:
        out_console.print(f"  certificate  {escape(args.output)}")
    return 0


def _expected(args: argparse.Namespace) -> ExpectedApp | None:
    given = [x for x in (args.fingerprint, args.package, args.source) if x]
    if len(given) > 1:
        raise ConfigError("give at most one of --fingerprint, --package, --source")
    if args.fingerprint:
        return ExpectedApp(fingerprint=args.fingerprint)
    if args.package:
        return ExpectedApp.from_package(Path(args.package))
    if args.source:
        return ExpectedApp.from_source(
            Path(args.source), find_links=args.wheels_from, no_index=args.no_index
        )
    return None


def _render_user(result: ServerVerification) -> None:
    out_console.print(f"[bold green]verified[/] {result.url}: an attested enclave answers")
    out_console.print(f"  tee          {result.verified_quote.tee.value}")
    out_console.print(f"  scenario     {result.scenario}")
    out_console.print(f"  app          {result.app_name or '?'} {result.fingerprint or ''}")
    out_console.print(f"  end to end   {'yes' if result.end_to_end else 'NO'}")
    out_console.print(f"  code checked {'yes' if result.code_checked else 'NO'}")


def _verify_url(args: argparse.Namespace) -> int:
    result = verify_server(
        args.target,
        expected=_expected(args),
        allow_simulated_insecure=args.allow_simulated_insecure,
        simulation_root_public_key=simulation_root_for(args),
        now=parse_time(args.at),
    )
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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "deploy",
        help="package, start, verify, seal and provision an app on this machine",
        description=(
            "Run the whole flow for the app in DIR: package it under a fresh code key, start a "
            "node, verify its evidence against the package, seal the secrets to it, provision, "
            "and check the app over the verified TLS channel."
        ),
    )
    p.add_argument("directory", metavar="DIR", help="app directory (with veil.toml)")
    p.add_argument("--name", help="node name (default: the app name)")
    p.add_argument("--port", type=int, help="TCP port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--backend", default="simulated", help="TEE backend (default: simulated)")
    p.add_argument("--san", action="append", default=[], help="extra certificate name")
    p.add_argument("--secrets", metavar="SECRETS.json", help='app secrets {"NAME": "value"}')
    p.add_argument("--tls-key", metavar="KEY", help="owner-certificate scenario: the cert's key")
    p.add_argument("--untrusted-ssl-cert", help="operator TLS scenario: operator certificate")
    p.add_argument("--untrusted-ssl-key", help="operator TLS scenario: operator private key")
    p.add_argument(
        "--wheels-from",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also look for dependency wheels in DIR (pip --find-links)",
    )
    p.add_argument("--no-index", action="store_true", help="take every wheel from --wheels-from")
    p.add_argument("--timeout", type=float, default=DEFAULT_SPAWN_TIMEOUT, help="seconds")
    p.add_argument(
        "--allow-simulated-insecure",
        action="store_true",
        help="required for the simulated backend: no TEE, test data only",
    )
    p.add_argument("--json", action="store_true", help="print url, name, fingerprint, certificate")
    p.set_defaults(func=_deploy)

    p = subparsers.add_parser(
        "verify",
        help="verify an enclave: evidence.json against a package (owner) or a live URL (user)",
        description=(
            "Owner: veil verify --evidence evidence.json --package FILE.veil [-o ratls.pem]. "
            "User: veil verify https://HOST:PORT [--fingerprint F | --package FILE | --source DIR]."
        ),
    )
    p.add_argument("target", nargs="?", metavar="https://HOST:PORT", help="a running app")
    p.add_argument("--evidence", metavar="FILE", help="owner: evidence.json from the operator")
    p.add_argument("--fingerprint", help="user: the app fingerprint you expect")
    p.add_argument("--source", metavar="DIR", help="user: recompute the fingerprint from source")
    p.add_argument(
        "--package",
        metavar="FILE",
        help="the .veil package (owner: required with --evidence; user: expected app)",
    )
    add_vendoring_options(p)
    p.add_argument("--at", metavar="TIME", help="verify as of this RFC 3339 time (default: now)")
    p.add_argument("-o", "--output", metavar="PEM", help="save the verified certificate")
    add_simulation_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_verify)
