"""veil.attestation: verify SGX, TDX, SEV-SNP and simulated quotes against collateral and a policy.

Pure: bytes, objects and an explicit ``now`` in, a verified result or a typed error out. Where
collateral comes from (files, Intel PCS, a PCCS) is :mod:`veil.attestation.sources`; the
individual policy checks to compose are in :mod:`veil.attestation.policy`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.attestation.api import (
        ParsedQuoteInfo,
        VerificationResult,
        detect_tee,
        get_verification_result,
        parse_quote_info,
        verify_attestation,
    )
    from veil.attestation.collateral import Collateral, load_collateral
    from veil.attestation.errors import (
        CollateralExpiredError,
        CollateralFormatError,
        PolicyError,
        QuoteFormatError,
        QuoteVerificationError,
    )
    from veil.attestation.evidence import EvidenceDocument, EvidenceFormatError
    from veil.attestation.policy import AllOf, ExpectedIdentity, Policy, default_policy
    from veil.attestation.quote import Quote, parse_quote, parse_quote_text
    from veil.attestation.result import TcbStatus, Tee, VerifiedQuote
    from veil.attestation.roots import INTEL_SGX_ROOT, TrustAnchor
    from veil.attestation.simulated import SimulationRoot
    from veil.attestation.snp_report import SnpReport, parse_snp_report
    from veil.attestation.verifier import (
        VerifiedCollateral,
        VerifyOptions,
        verify_collateral,
        verify_quote,
    )

__all__ = [
    "INTEL_SGX_ROOT",
    "AllOf",
    "Collateral",
    "CollateralExpiredError",
    "CollateralFormatError",
    "EvidenceDocument",
    "EvidenceFormatError",
    "ExpectedIdentity",
    "ParsedQuoteInfo",
    "Policy",
    "PolicyError",
    "Quote",
    "QuoteFormatError",
    "QuoteVerificationError",
    "SimulationRoot",
    "SnpReport",
    "TcbStatus",
    "Tee",
    "TrustAnchor",
    "VerificationResult",
    "VerifiedCollateral",
    "VerifiedQuote",
    "VerifyOptions",
    "default_policy",
    "detect_tee",
    "get_verification_result",
    "load_collateral",
    "parse_quote",
    "parse_quote_info",
    "parse_quote_text",
    "parse_snp_report",
    "verify_attestation",
    "verify_collateral",
    "verify_quote",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "api": (
            "ParsedQuoteInfo",
            "VerificationResult",
            "detect_tee",
            "get_verification_result",
            "parse_quote_info",
            "verify_attestation",
        ),
        "collateral": ("Collateral", "load_collateral"),
        "errors": (
            "CollateralExpiredError",
            "CollateralFormatError",
            "PolicyError",
            "QuoteFormatError",
            "QuoteVerificationError",
        ),
        "evidence": ("EvidenceDocument", "EvidenceFormatError"),
        "policy": ("AllOf", "ExpectedIdentity", "Policy", "default_policy"),
        "quote": ("Quote", "parse_quote", "parse_quote_text"),
        "result": ("TcbStatus", "Tee", "VerifiedQuote"),
        "roots": ("INTEL_SGX_ROOT", "TrustAnchor"),
        "simulated": ("SimulationRoot",),
        "snp_report": ("SnpReport", "parse_snp_report"),
        "verifier": ("VerifiedCollateral", "VerifyOptions", "verify_collateral", "verify_quote"),
    },
)
