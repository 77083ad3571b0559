"""The ``veil attest verify`` handler (parser in :mod:`veil.cli.attest`)."""

from __future__ import annotations

import argparse
import binascii
from datetime import datetime

from rich.markup import escape

from veil.attestation.api import VerificationResult, verify_attestation
from veil.attestation.collateral import Collateral
from veil.attestation.policy import ExpectedIdentity, Policy, default_policy
from veil.attestation.quote import parse_quote
from veil.attestation.result import TcbStatus, Tee, VerifiedQuote
from veil.attestation.simulated import is_simulated_quote
from veil.attestation.sources.interface import CollateralSource
from veil.cli._options import at, collateral_source
from veil.cli._output import emit_json, error_text, out_console, warn
from veil.cli._output import error as error_line
from veil.cli.attest._input import AttestInput, InputKind, read_input
from veil.errors import ConfigError, VeilError
from veil.ratls.evidence import verify_evidence_document
from veil.ratls.extract import read_ratls_evidence
from veil.ratls.verify import verify_ratls_evidence

__all__ = ["verify_command"]


# ----- options ------------------------------------------------------------------------------


def _hex(value: str | None, option: str, size: int) -> bytes | None:
    if value is None:
        return None
    text = value.strip().removeprefix("0x")
    try:
        raw = binascii.unhexlify(text)
    except (binascii.Error, ValueError) as e:
        raise ConfigError(f"{option}: not hexadecimal") from e
    if len(raw) != size:
        raise ConfigError(f"{option}: expected {size} bytes ({2 * size} hex digits)")
    return raw


def _rtmrs(values: list[str]) -> dict[int, bytes]:
    result: dict[int, bytes] = {}
    for item in values:
        index, sep, value = item.partition("=")
        if not sep or index not in {"0", "1", "2", "3"}:
            raise ConfigError(f"--rtmr: expected N=HEX with N in 0..3, got {item!r}")
        raw = _hex(value, f"--rtmr {index}", 48)
        if raw is not None:
            result[int(index)] = raw
    return result


def _policy(args: argparse.Namespace) -> Policy:
    if args.allow_debug_insecure:
        warn("--allow-debug-insecure: debug enclaves accepted; their memory is readable")
    if args.allow_simulated_insecure:
        warn(
            "--allow-simulated-insecure: SIMULATED evidence accepted. No TEE protects such an "
            "enclave; anyone on the host can read its code and data."
        )
    if args.allow_sept_ve_insecure:
        warn("--allow-sept-ve-insecure: TDs without SEPT_VE_DISABLE accepted")
    try:
        expected = ExpectedIdentity(
            mr_enclave=_hex(args.mrenclave, "--mrenclave", 32),
            mr_signer=_hex(args.mrsigner, "--mrsigner", 32),
            isv_prod_id=args.isv_prod_id,
            min_isv_svn=args.min_isv_svn,
            mr_td=_hex(args.mrtd, "--mrtd", 48),
            rtmrs=_rtmrs(args.rtmr),
            simulated_measurement=_hex(args.measurement, "--measurement", 48),
        )
        return default_policy(
            expected=expected,
            allow_tcb_statuses=[TcbStatus.UP_TO_DATE, *args.allow_tcb],
            allow_debug_insecure=args.allow_debug_insecure,
            allow_simulated_insecure=args.allow_simulated_insecure,
            allow_sept_ve_insecure=args.allow_sept_ve_insecure,
        )
    except ValueError as e:
        raise ConfigError(str(e)) from e


def _collateral_for(
    quote: bytes,
    source: CollateralSource | None,
    now: datetime,
    embedded: Collateral | None = None,
) -> Collateral | None:
    """Collateral for a hardware quote: from the source the options name, else what the
    evidence embeds. Simulated quotes need none."""
    if is_simulated_quote(quote):
        return None
    if source is not None:
        return source.get_collateral(parse_quote(quote), now=now)
    return embedded


# ----- verify ------------------------------------------------------------------------------


class _Progress:
    """What verification has learnt so far, so that a refusal still reports it: the quote once
    found, the verified quote the policy was shown, and envelope facts."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.quote: bytes | None = None
        self.seen: VerifiedQuote | None = None
        self.details: dict[str, str] = {}

    def check(self, verified: VerifiedQuote) -> None:
        """The ``Policy`` interface: remember, then ask the real policy."""
        self.seen = verified
        self.policy.check(verified)


def _verify(
    source: AttestInput,
    *,
    collateral: CollateralSource | None,
    progress: _Progress,
    now: datetime,
    root: bytes | None,
) -> VerifiedQuote:
    details = progress.details
    details["input"] = source.kind.value
    if source.kind is InputKind.EVIDENCE and source.evidence is not None:
        document = source.evidence
        progress.quote = document.quote
        details.update(app_name=document.app.name, app_fingerprint=document.app.fingerprint)
        details["instance_id"] = document.deployment.instance_id
        checked = verify_evidence_document(
            document,
            policy=progress,
            now=now,
            collateral=_collateral_for(document.quote, collateral, now, document.collateral),
            simulation_root_public_key=root,
        )
        return checked.verified_quote
    if source.kind is InputKind.CERTIFICATE:
        evidence = read_ratls_evidence(source.data)
        progress.quote = evidence.quote
        details["ratls_format"] = evidence.format.value
        certificate = verify_ratls_evidence(
            evidence,
            policy=progress,
            now=now,
            collateral=_collateral_for(evidence.quote, collateral, now),
            simulation_root_public_key=root,
        )
        return certificate.verified_quote
    progress.quote = source.data
    verified = verify_attestation(
        source.data,
        collateral=_collateral_for(source.data, collateral, now),
        simulation_root_public_key=root,
        now=now,
    )
    progress.check(verified)
    return verified


def verify_command(args: argparse.Namespace) -> int:
    now = at(args)
    progress = _Progress(_policy(args))
    root = _hex(args.simulation_root_key, "--simulation-root-key", 32)
    collateral = collateral_source(args)
    error: VeilError | None = None
    try:
        given = read_input(args.file)
        verified = _verify(given, collateral=collateral, progress=progress, now=now, root=root)
        result = VerificationResult.success(verified, details=progress.details)
    except ConfigError:
        raise
    except VeilError as e:
        error = e
        result = VerificationResult.failure(
            e, now=now, quote=progress.quote, verified=progress.seen, details=progress.details
        )
    _render(result, as_json=args.json)
    if error is not None:
        error_line(error_text(error, args.cli_options))
        return error.exit_code
    return 0


def _render(result: VerificationResult, *, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_json())
        return
    verdict = "[bold green]verified[/]" if result.verified else "[bold red]NOT verified[/]"
    out_console.print(verdict)
    if result.tee is not None:
        tee = result.tee.value + (" (SIMULATED: no TEE)" if result.tee is Tee.SIMULATED else "")
        out_console.print(f"tee: {tee}")
    if result.debug:
        out_console.print("debug: yes (a DEBUG enclave: the host can read its memory)")
    if result.tcb_status is not None:
        out_console.print(f"tcb_status: {result.tcb_status}")
    if result.advisory_ids:
        out_console.print(f"advisory_ids: {', '.join(result.advisory_ids)}")
    for name, value in {**result.details, **result.measurements}.items():
        out_console.print(f"{name}: {escape(value)}", soft_wrap=True)
