"""veil.ratls: RA-TLS certificates that carry an enclave's evidence — issue, read, verify."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.ratls.claims import RatlsClaims
    from veil.ratls.errors import (
        CertificateValidityError,
        NoEvidenceError,
        RatlsBindingError,
        RatlsFormatError,
    )
    from veil.ratls.evidence import (
        EvidenceMismatchError,
        VerifiedEvidence,
        verify_evidence_document,
    )
    from veil.ratls.extension import VeilEvidence
    from veil.ratls.extract import RatlsEvidence, RatlsFormat, read_ratls_evidence
    from veil.ratls.freshness import FreshnessError, sign_freshness, verify_freshness
    from veil.ratls.issue import IssuedCertificate, issue_ratls_certificate
    from veil.ratls.oids import VEIL_EVIDENCE_OID
    from veil.ratls.report_data import ratls_report_data
    from veil.ratls.verify import (
        VerifiedRatlsCertificate,
        verify_ratls_certificate,
        verify_ratls_evidence,
    )

__all__ = [
    "VEIL_EVIDENCE_OID",
    "CertificateValidityError",
    "EvidenceMismatchError",
    "FreshnessError",
    "IssuedCertificate",
    "NoEvidenceError",
    "RatlsBindingError",
    "RatlsClaims",
    "RatlsEvidence",
    "RatlsFormat",
    "RatlsFormatError",
    "VeilEvidence",
    "VerifiedEvidence",
    "VerifiedRatlsCertificate",
    "issue_ratls_certificate",
    "ratls_report_data",
    "read_ratls_evidence",
    "sign_freshness",
    "verify_evidence_document",
    "verify_freshness",
    "verify_ratls_certificate",
    "verify_ratls_evidence",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "claims": ("RatlsClaims",),
        "errors": (
            "CertificateValidityError",
            "NoEvidenceError",
            "RatlsBindingError",
            "RatlsFormatError",
        ),
        "evidence": ("EvidenceMismatchError", "VerifiedEvidence", "verify_evidence_document"),
        "extension": ("VeilEvidence",),
        "extract": ("RatlsEvidence", "RatlsFormat", "read_ratls_evidence"),
        "freshness": ("FreshnessError", "sign_freshness", "verify_freshness"),
        "issue": ("IssuedCertificate", "issue_ratls_certificate"),
        "oids": ("VEIL_EVIDENCE_OID",),
        "report_data": ("ratls_report_data",),
        "verify": ("VerifiedRatlsCertificate", "verify_ratls_certificate", "verify_ratls_evidence"),
    },
)
