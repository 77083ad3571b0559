"""One entry point that verifies any quote (SGX, TDX or simulated) and reports the outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from veil.attestation.errors import QuoteFormatError, QuoteVerificationError
from veil.attestation.quote import measurements_of, parse_quote
from veil.attestation.result import Tee, VerifiedQuote
from veil.attestation.simulated import (
    is_simulated_quote,
    parse_simulated_quote,
    verify_simulated_quote,
)
from veil.errors import VeilError

if TYPE_CHECKING:
    # Only verification needs these; the enclave, which parses its own quotes, never loads them.
    from veil.attestation.collateral import Collateral
    from veil.attestation.policy import Policy
    from veil.attestation.verifier import VerifiedCollateral, VerifyOptions

__all__ = [
    "ParsedQuoteInfo",
    "VerificationResult",
    "detect_tee",
    "get_verification_result",
    "parse_quote_info",
    "verify_attestation",
]


def detect_tee(quote: bytes) -> Tee:
    """Which TEE a quote claims to come from (parsed, not verified); ``QuoteFormatError``."""
    if is_simulated_quote(quote):
        parse_simulated_quote(quote)
        return Tee.SIMULATED
    return parse_quote(quote).tee


@dataclass(frozen=True)
class ParsedQuoteInfo:
    """What a quote says about itself before anything is verified (for reports only)."""

    tee: Tee
    version: int
    report_data: bytes
    measurements: Mapping[str, str]
    debug: bool


def parse_quote_info(quote: bytes) -> ParsedQuoteInfo:
    """Parse any supported quote without verifying it; raises only ``QuoteFormatError``."""
    if is_simulated_quote(quote):
        simulated = parse_simulated_quote(quote)
        return ParsedQuoteInfo(
            tee=Tee.SIMULATED,
            version=simulated.version,
            report_data=simulated.report_data,
            measurements=simulated.measurements(),
            debug=simulated.debug,
        )
    parsed = parse_quote(quote)
    return ParsedQuoteInfo(
        tee=parsed.tee,
        version=parsed.header.version,
        report_data=parsed.report_data,
        measurements=measurements_of(parsed),
        debug=parsed.body.is_debug,
    )


def verify_attestation(
    quote: bytes,
    *,
    collateral: Collateral | VerifiedCollateral | None,
    simulation_root_public_key: bytes | None,
    now: datetime,
    options: VerifyOptions | None = None,
) -> VerifiedQuote:
    """Verify a quote through the verifier its format needs; no policy is applied here.

    Simulated quotes (magic ``VEILSIM\\0``) are checked against ``simulation_root_public_key``
    and come back as ``Tee.SIMULATED`` — which every default policy refuses. Anything else is
    a DCAP quote and needs ``collateral``.
    """
    if is_simulated_quote(quote):
        if simulation_root_public_key is None:
            raise QuoteVerificationError(
                "S0", "a simulated quote needs the simulation root public key to verify"
            )
        return verify_simulated_quote(quote, root_public_key=simulation_root_public_key, now=now)
    if collateral is None:
        raise QuoteVerificationError(
            "0", "a hardware quote needs collateral (a bundle file, a PCCS or Intel PCS)"
        )
    from veil.attestation.verifier import VerifyOptions, verify_quote  # noqa: PLC0415

    return verify_quote(
        quote, collateral, now=now, options=options if options is not None else VerifyOptions()
    )


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True)
class VerificationResult:
    """The report ``veil attest verify --json`` prints: verdict, identity and the failed step."""

    verified: bool
    tee: Tee | None = None
    tcb_status: str | None = None
    advisory_ids: tuple[str, ...] = ()
    measurements: Mapping[str, str] = field(default_factory=dict)
    debug: bool | None = None
    fmspc: str | None = None
    verified_at: datetime
    error: str | None = None
    #: Extra facts from the envelope (RA-TLS format, app fingerprint…), flat strings only.
    details: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "measurements", _frozen(self.measurements))
        object.__setattr__(self, "details", _frozen(self.details))
        if self.verified and self.error is not None:
            raise ValueError("a verified result carries no error")
        if not self.verified and self.error is None:
            raise ValueError("a failed result must say why")

    @classmethod
    def success(
        cls, verified: VerifiedQuote, *, details: Mapping[str, str] | None = None
    ) -> VerificationResult:
        return cls(
            verified=True,
            tee=verified.tee,
            # The simulated TEE has no TCB: report none rather than a reassuring "UpToDate".
            tcb_status=None if verified.tee is Tee.SIMULATED else verified.tcb_status.value,
            advisory_ids=verified.advisory_ids,
            measurements=verified.measurements,
            debug=verified.debug,
            fmspc=verified.fmspc,
            verified_at=verified.verified_at,
            details=details or {},
        )

    @classmethod
    def failure(
        cls,
        error: VeilError,
        *,
        now: datetime,
        quote: bytes | None = None,
        verified: VerifiedQuote | None = None,
        details: Mapping[str, str] | None = None,
    ) -> VerificationResult:
        """A refusal, keeping what is known: the verified quote when only the policy said no,
        else whatever parses out of ``quote``."""
        if verified is not None:
            ok = cls.success(verified, details=details)
            return replace(ok, verified=False, error=str(error))
        info: ParsedQuoteInfo | None = None
        if quote is not None:
            try:
                info = parse_quote_info(quote)
            except QuoteFormatError:
                info = None
        return cls(
            verified=False,
            tee=info.tee if info else None,
            measurements=info.measurements if info else {},
            debug=info.debug if info else None,
            verified_at=now,
            error=str(error),
            details=details or {},
        )

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "verified": self.verified,
            "tee": self.tee.value if self.tee else None,
            "tcb_status": self.tcb_status,
            "advisory_ids": list(self.advisory_ids),
            "measurements": dict(self.measurements),
            "debug": self.debug,
            "fmspc": self.fmspc,
            "verified_at": self.verified_at.isoformat(),
        }
        if self.error is not None:
            document["error"] = self.error
        document.update(self.details)
        return document


def get_verification_result(
    quote: bytes,
    *,
    policy: Policy,
    collateral: Collateral | VerifiedCollateral | None,
    simulation_root_public_key: bytes | None,
    now: datetime,
    options: VerifyOptions | None = None,
) -> VerificationResult:
    """Verify ``quote`` and apply ``policy``; report the outcome instead of raising.

    Only veil's own errors become a failed report; programming errors still raise.
    """
    try:
        verified = verify_attestation(
            quote,
            collateral=collateral,
            simulation_root_public_key=simulation_root_public_key,
            now=now,
            options=options,
        )
    except VeilError as e:
        return VerificationResult.failure(e, now=now, quote=quote)
    try:
        policy.check(verified)
    except VeilError as e:
        return VerificationResult.failure(e, now=now, verified=verified)
    return VerificationResult.success(verified)
