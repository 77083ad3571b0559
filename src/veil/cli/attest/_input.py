"""What ``veil attest`` was given: a raw or hex quote, an RA-TLS certificate or an evidence.json."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from veil._io import read_bounded
from veil._json import load_json_object
from veil.attestation.evidence import MAX_EVIDENCE_BYTES, EvidenceDocument
from veil.attestation.quote import parse_quote_text
from veil.attestation.simulated import is_simulated_quote
from veil.errors import ConfigError, FormatError

__all__ = ["AttestInput", "InputKind", "read_input", "sniff"]

_HEX_TEXT: Final = re.compile(rb"\s*(?:0[xX])?[0-9a-fA-F\s]+")
_PEM_CERTIFICATE: Final = b"-----BEGIN CERTIFICATE-----"


class InputKind(enum.StrEnum):
    QUOTE = "quote"
    HEX_QUOTE = "hex-quote"
    CERTIFICATE = "certificate"
    EVIDENCE = "evidence"


@dataclass(frozen=True)
class AttestInput:
    kind: InputKind
    #: The quote bytes (quote kinds), certificate bytes (PEM or DER), or None for evidence.
    data: bytes
    evidence: EvidenceDocument | None = None


def _is_der_certificate(data: bytes) -> bool:
    # SEQUENCE with a long-form length, holding a SEQUENCE (tbsCertificate): a DCAP quote starts
    # with its version (03/04/05 00) and a simulated one with "VEILSIM", never with 0x30.
    return len(data) > 4 and data[0] == 0x30 and data[1] in (0x81, 0x82, 0x83)


def _is_binary_quote(data: bytes) -> bool:
    # A DCAP quote starts with version 3, 4 or 5 and attestation key type 2 (ECDSA P-256), both
    # u16 little-endian; it embeds a PEM chain, so this test must come before the PEM one.
    return is_simulated_quote(data) or (
        len(data) >= 4 and data[1] == 0 and data[0] in (3, 4, 5) and data[2:4] == b"\x02\x00"
    )


def sniff(data: bytes) -> AttestInput:
    """Classify ``data``: a quote (raw or hex), an RA-TLS certificate (PEM or DER), or an
    evidence.json (veil's, or a foreign one that carries an RA-TLS certificate); raises
    ``FormatError`` when it is none of them."""
    if _is_binary_quote(data):
        return AttestInput(InputKind.QUOTE, data)
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        document = load_json_object(data, max_bytes=MAX_EVIDENCE_BYTES, what="JSON input")
        if document.get("format") == "veil-evidence":
            return AttestInput(InputKind.EVIDENCE, data, EvidenceDocument.from_json(data))
        certificate = document.get("ratls_certificate")
        if isinstance(certificate, str):
            # A foreign evidence file (e.g. Cosmian's): verify the RA-TLS certificate it carries.
            return AttestInput(InputKind.CERTIFICATE, certificate.encode("ascii", "replace"))
        raise FormatError("JSON input is neither a veil evidence.json nor carries an RA-TLS cert")
    if _PEM_CERTIFICATE in data and data.isascii():
        return AttestInput(InputKind.CERTIFICATE, data)
    if _is_der_certificate(data):
        return AttestInput(InputKind.CERTIFICATE, data)
    if _HEX_TEXT.fullmatch(data):
        return AttestInput(InputKind.HEX_QUOTE, parse_quote_text(data))
    return AttestInput(InputKind.QUOTE, data)


def read_input(path: Path) -> AttestInput:
    """Read ``path`` (bounded) and classify it. ``ConfigError`` if it cannot be read."""
    data = read_bounded(path, max_bytes=MAX_EVIDENCE_BYTES, what="input", error=ConfigError)
    if not data.strip():
        raise FormatError(f"{path} is empty")
    return sniff(data)
