"""Errors raised by quote and collateral parsing, DCAP verification and attestation policy."""

from __future__ import annotations

from veil.errors import AttestationError, FormatError

__all__ = [
    "CollateralExpiredError",
    "CollateralFormatError",
    "PolicyError",
    "QuoteFormatError",
    "QuoteVerificationError",
]


class QuoteFormatError(FormatError):
    """Quote bytes are malformed, truncated, oversized or of an unsupported version or type."""


class CollateralFormatError(FormatError):
    """Collateral (TCB info, QE identity, CRLs, issuer chains) is malformed or oversized."""


class QuoteVerificationError(AttestationError):
    """A quote or its collateral failed a verification step.

    ``step`` names the step of the verification procedure that failed (e.g. ``"4.2"``); the
    message reads ``"step 4.2: quote signature is invalid"``.
    """

    def __init__(self, step: str, message: str) -> None:
        self.step = step
        self.detail = message
        super().__init__(f"step {step}: {message}")


class CollateralExpiredError(QuoteVerificationError):
    """Collateral (TCB info, QE identity, a CRL or a certificate) is outside its validity window."""


class PolicyError(AttestationError):
    """The attestation policy refused a quote that verified correctly.

    ``rule`` names the policy rule that refused (e.g. ``"mr_enclave"``, ``"debug"``); the
    message reads ``"policy rule mr_enclave: expected 33d8…, got 0000…"``.
    """

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.detail = message
        super().__init__(f"policy rule {rule}: {message}")
