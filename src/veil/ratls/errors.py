"""Errors raised while issuing, reading and verifying RA-TLS certificates."""

from __future__ import annotations

from veil.errors import BindingError, FormatError, VerificationError

__all__ = [
    "CertificateValidityError",
    "NoEvidenceError",
    "RatlsBindingError",
    "RatlsFormatError",
]


class RatlsFormatError(FormatError):
    """The certificate or its evidence extension is malformed, truncated or oversized."""


class NoEvidenceError(RatlsFormatError):
    """The certificate parses but carries no attestation evidence extension veil knows."""


class RatlsBindingError(BindingError):
    """The certificate's public key (or sealing key, nonce, TEE) is not the one the quote binds."""


class CertificateValidityError(VerificationError):
    """The certificate is outside its validity window, or its self-signature does not verify."""
