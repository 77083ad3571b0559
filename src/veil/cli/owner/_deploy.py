"""The ``veil deploy`` handler (parser in :mod:`veil.cli.owner._deploy_parsers`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from veil.cli import _nodes
from veil.cli._options import UNTRUSTED_SSL_WARNING, image, operator_tls, wheel_store
from veil.cli._output import emit_json, err_console, out_console, warn
from veil.owner.deploy import DEPLOY_STEPS, SIMULATED_WARNING, DeployOptions, deploy

# Apart from owner._verify so that `veil deploy` starts without the user-side verification
# code: veil.owner.deploy.deploy loads what it needs while the node boots.
__all__ = ["deploy_command"]

_STEP_LABELS = {
    "package": "packaging the app (archive, fingerprint, encrypt)",
    "spawn": "starting the enclave node",
    "evidence": "fetching the enclave's evidence (fresh nonce)",
    "verify": "verifying the evidence against the package",
    "seal": "sealing the secrets to the verified enclave",
    "provision": "provisioning and waiting for the app to load",
    "healthcheck": "checking the app over the verified TLS channel",
}


def deploy_command(args: argparse.Namespace) -> int:
    if args.backend == "simulated" and args.allow_simulated_insecure:
        warn(SIMULATED_WARNING)
    operator_files = operator_tls(args)
    if operator_files is not None:
        warn(UNTRUSTED_SSL_WARNING)
    options = DeployOptions(
        name=args.name,
        port=args.port,
        host=args.host,
        backend=args.backend,
        san=args.san,
        allow_simulated_insecure=args.allow_simulated_insecure,
        app_secrets=_app_secrets(args),
        tls_key=Path(args.tls_key) if args.tls_key else None,
        operator_tls=operator_files,
        wheels_from=args.wheels_from,
        no_index=args.no_index,
        wheel_store=wheel_store(args),
        timeout=args.timeout,
        image=image(args),
    )
    quiet = args.json or not err_console.is_terminal
    if quiet:
        result = deploy(Path(args.directory), options, manager=_nodes.node_manager())
    else:
        with err_console.status("deploying") as status:
            done: list[str] = []

            def on_step(step: str) -> None:
                if done:
                    err_console.print(f"[green]✓[/] {_STEP_LABELS[done[-1]]}")
                done.append(step)
                number = DEPLOY_STEPS.index(step) + 1
                status.update(f"[{number}/{len(DEPLOY_STEPS)}] {_STEP_LABELS[step]}")

            result = deploy(
                Path(args.directory), options, on_step=on_step, manager=_nodes.node_manager()
            )
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


def _app_secrets(args: argparse.Namespace) -> dict[str, str]:
    if not args.secrets:
        return {}
    from veil.owner.seal import read_app_secrets  # noqa: PLC0415 - sealing loads with the node

    return read_app_secrets(Path(args.secrets))
