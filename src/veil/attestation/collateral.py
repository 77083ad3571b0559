"""DCAP collateral: the container, its readers (dcap-qvl JSON, veil bundle, Intel PCS) and writer.

Signed pieces (TCB info, QE identity) are carried as the exact bytes Intel signed and are never
re-serialised. Construction validates every field's format; signatures, chains, CRL contents and
validity windows are the verifier's job (``veil.attestation.verifier``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from veil.attestation._collateral_fields import (
    check_crl,
    check_issuer_chain,
    check_signature,
    check_signed_json,
    decode_base64,
    decode_hex,
    read_crl,
    read_issuer_chain,
)
from veil.attestation._signed_json import SignedJsonError, extract_member_bytes, loads_strict
from veil.attestation.errors import CollateralFormatError

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "MAX_COLLATERAL_BYTES",
    "PCS_PCK_CRL_ISSUER_CHAIN_HEADER",
    "PCS_QE_IDENTITY_ISSUER_CHAIN_HEADER",
    "PCS_TCB_INFO_ISSUER_CHAIN_HEADERS",
    "Collateral",
    "load_collateral",
]

#: Largest collateral document accepted, in bytes (real ones are 14-25 KB; a CRL may grow).
MAX_COLLATERAL_BYTES = 8 * 1024 * 1024
#: Longest provenance URL kept in a bundle, in characters.
_MAX_FETCHED_FROM_CHARS = 2048

BUNDLE_FORMAT = "veil-collateral"
BUNDLE_VERSION = 1

#: Intel PCS v4 response headers carrying the URL-encoded PEM issuer chains (v3 spelling second).
PCS_TCB_INFO_ISSUER_CHAIN_HEADERS = ("TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain")
PCS_QE_IDENTITY_ISSUER_CHAIN_HEADER = "SGX-Enclave-Identity-Issuer-Chain"
PCS_PCK_CRL_ISSUER_CHAIN_HEADER = "SGX-PCK-CRL-Issuer-Chain"

# The signed fields in the order the digest and the docs list them.
_SIGNED_FIELDS = (
    "pck_crl",
    "pck_crl_issuer_chain",
    "root_ca_crl",
    "tcb_info",
    "tcb_info_signature",
    "tcb_info_issuer_chain",
    "qe_identity",
    "qe_identity_signature",
    "qe_identity_issuer_chain",
)
_DIGEST_DOMAIN = b"veil-collateral-digest/v1\0"


@dataclass(frozen=True, kw_only=True)
class Collateral:
    """Everything needed to verify a DCAP quote offline, besides the quote and Intel's root.

    ``tcb_info`` / ``qe_identity`` are the exact signed JSON bytes of the inner ``tcbInfo`` /
    ``enclaveIdentity`` objects; signatures are ECDSA P-256 r ‖ s (64 bytes); CRLs are DER;
    issuer chains are PEM (signer first, root last, as Intel serves them).
    """

    pck_crl: bytes = field(repr=False)
    pck_crl_issuer_chain: bytes = field(repr=False)
    root_ca_crl: bytes = field(repr=False)
    tcb_info: bytes = field(repr=False)
    tcb_info_signature: bytes = field(repr=False)
    tcb_info_issuer_chain: bytes = field(repr=False)
    qe_identity: bytes = field(repr=False)
    qe_identity_signature: bytes = field(repr=False)
    qe_identity_issuer_chain: bytes = field(repr=False)
    #: Provenance only (where and when it was fetched); not signed, not part of :meth:`digest`.
    fetched_from: str | None = None
    fetched_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in _SIGNED_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bytearray | memoryview):
                object.__setattr__(self, name, bytes(value))
            elif not isinstance(value, bytes):
                raise TypeError(f"Collateral.{name} must be bytes")
        check_crl(self.pck_crl, "pck_crl")
        check_crl(self.root_ca_crl, "root_ca_crl")
        check_issuer_chain(self.pck_crl_issuer_chain, "pck_crl_issuer_chain")
        check_issuer_chain(self.tcb_info_issuer_chain, "tcb_info_issuer_chain")
        check_issuer_chain(self.qe_identity_issuer_chain, "qe_identity_issuer_chain")
        check_signed_json(self.tcb_info, "tcb_info")
        check_signed_json(self.qe_identity, "qe_identity")
        check_signature(self.tcb_info_signature, "tcb_info_signature")
        check_signature(self.qe_identity_signature, "qe_identity_signature")
        if self.fetched_from is not None and (
            not isinstance(self.fetched_from, str)
            or len(self.fetched_from) > _MAX_FETCHED_FROM_CHARS
        ):
            raise CollateralFormatError(
                f"fetched_from: must be a string of at most {_MAX_FETCHED_FROM_CHARS} characters"
            )
        if self.fetched_at is not None and (
            not isinstance(self.fetched_at, datetime) or self.fetched_at.utcoffset() is None
        ):
            raise CollateralFormatError("fetched_at: must be a timezone-aware datetime")

    def __repr__(self) -> str:
        return f"Collateral(digest={self.digest().hex()[:16]}…, fetched_from={self.fetched_from!r})"

    # ----- readers -------------------------------------------------------------------------

    @classmethod
    def from_dcap_qvl_json(cls, data: bytes) -> Collateral:
        """Read dcap-qvl's ``QuoteCollateralV3`` JSON (hex CRLs and signatures, PEM chains,
        ``tcb_info``/``qe_identity`` as strings holding the exact signed JSON).

        Unknown members (e.g. dcap-qvl 0.7's optional ``pck_certificate_chain``) are ignored:
        the PCK chain is taken from the quote.
        """
        return _from_dcap_qvl(_load_object(data))

    @classmethod
    def from_bundle_json(cls, data: bytes) -> Collateral:
        """Read veil's own collateral bundle (``docs/formats.md``, "Collateral bundle")."""
        return _from_bundle(_load_object(data))

    @classmethod
    def from_bundle_dict(cls, document: Mapping[str, Any]) -> Collateral:
        """Read a bundle already parsed from JSON (e.g. embedded in ``evidence.json``)."""
        if not isinstance(document, Mapping):
            raise CollateralFormatError("collateral: not a JSON object")
        return _from_bundle(dict(document))

    @classmethod
    def from_pcs_responses(
        cls,
        *,
        tcb_info_response: bytes,
        tcb_info_issuer_chain: bytes | str,
        qe_identity_response: bytes,
        qe_identity_issuer_chain: bytes | str,
        pck_crl: bytes | str,
        pck_crl_issuer_chain: bytes | str,
        root_ca_crl: bytes | str,
        fetched_from: str | None = None,
        fetched_at: datetime | None = None,
    ) -> Collateral:
        """Build from Intel PCS v4 (or PCCS) response bodies and issuer-chain header values.

        ``tcb_info_response`` is the body ``{"tcbInfo": {…}, "signature": "hex"}`` and
        ``qe_identity_response`` the body ``{"enclaveIdentity": {…}, "signature": "hex"}``; the
        inner objects are cut out byte for byte. Chains may be URL-encoded (as in the headers)
        or plain PEM; CRLs may be DER, PEM or hex.
        """
        tcb_info, tcb_info_signature = _signed_member(tcb_info_response, "tcbInfo", "tcb_info")
        qe_identity, qe_identity_signature = _signed_member(
            qe_identity_response, "enclaveIdentity", "qe_identity"
        )
        return cls(
            pck_crl=read_crl(pck_crl, "pck_crl"),
            pck_crl_issuer_chain=read_issuer_chain(pck_crl_issuer_chain, "pck_crl_issuer_chain"),
            root_ca_crl=read_crl(root_ca_crl, "root_ca_crl"),
            tcb_info=tcb_info,
            tcb_info_signature=tcb_info_signature,
            tcb_info_issuer_chain=read_issuer_chain(tcb_info_issuer_chain, "tcb_info_issuer_chain"),
            qe_identity=qe_identity,
            qe_identity_signature=qe_identity_signature,
            qe_identity_issuer_chain=read_issuer_chain(
                qe_identity_issuer_chain, "qe_identity_issuer_chain"
            ),
            fetched_from=fetched_from,
            fetched_at=fetched_at,
        )

    # ----- writer and identity -------------------------------------------------------------

    def to_bundle_json(self) -> bytes:
        """veil's bundle: deterministic JSON (sorted keys, 2-space indent, trailing newline)."""
        return (json.dumps(self.to_bundle_dict(), indent=2, sort_keys=True) + "\n").encode("ascii")

    def to_bundle_dict(self) -> dict[str, Any]:
        """The bundle as a JSON-ready dict; every value is a string or an int, so embedding it
        in another document and re-serialising cannot alter a signed byte."""
        document: dict[str, Any] = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION}
        for name in _SIGNED_FIELDS:
            document[name] = _b64(getattr(self, name))
        if self.fetched_from is not None:
            document["fetched_from"] = self.fetched_from
        if self.fetched_at is not None:
            document["fetched_at"] = _format_time(self.fetched_at)
        return document

    def to_dcap_qvl_json(self) -> bytes:
        """dcap-qvl's ``QuoteCollateralV3`` JSON (for cross-checking with dcap-qvl)."""
        document = {
            "pck_crl_issuer_chain": self.pck_crl_issuer_chain.decode("ascii"),
            "root_ca_crl": self.root_ca_crl.hex(),
            "pck_crl": self.pck_crl.hex(),
            "tcb_info_issuer_chain": self.tcb_info_issuer_chain.decode("ascii"),
            "tcb_info": self.tcb_info.decode("utf-8"),
            "tcb_info_signature": self.tcb_info_signature.hex(),
            "qe_identity_issuer_chain": self.qe_identity_issuer_chain.decode("ascii"),
            "qe_identity": self.qe_identity.decode("utf-8"),
            "qe_identity_signature": self.qe_identity_signature.hex(),
        }
        return json.dumps(document).encode("utf-8")

    def digest(self) -> bytes:
        """SHA-256 over the signed fields (not provenance), each length-prefixed, in a fixed
        order behind a domain tag: equal digests mean byte-identical collateral."""
        hasher = hashlib.sha256(_DIGEST_DOMAIN)
        for name in _SIGNED_FIELDS:
            value: bytes = getattr(self, name)
            hasher.update(struct.pack("<Q", len(value)))
            hasher.update(value)
        return hasher.digest()


def load_collateral(data: bytes) -> Collateral:
    """Read collateral in any supported JSON format (veil bundle or dcap-qvl), by sniffing."""
    document = _load_object(data)
    if "format" in document:
        return _from_bundle(document)
    if "tcb_info" in document and "qe_identity" in document:
        return _from_dcap_qvl(document)
    raise CollateralFormatError(
        "collateral: neither a veil bundle (no 'format') nor dcap-qvl JSON (no 'tcb_info')"
    )


# ----- internals -----------------------------------------------------------------------------


def _load_object(data: bytes) -> dict[str, Any]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("collateral must be given as bytes")
    if len(data) > MAX_COLLATERAL_BYTES:
        raise CollateralFormatError(f"collateral: more than {MAX_COLLATERAL_BYTES} bytes")
    try:
        document = loads_strict(bytes(data))
    except SignedJsonError as e:
        raise CollateralFormatError(f"collateral: {e}") from e
    if not isinstance(document, dict):
        raise CollateralFormatError("collateral: not a JSON object")
    return document


def _string(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if value is None:
        raise CollateralFormatError(f"{name}: missing")
    if not isinstance(value, str):
        raise CollateralFormatError(f"{name}: must be a string")
    return value


def _utf8(value: str, name: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:  # lone surrogates from \ud800-style escapes
        raise CollateralFormatError(f"{name}: not encodable as UTF-8") from e


def _from_dcap_qvl(document: dict[str, Any]) -> Collateral:
    return Collateral(
        pck_crl=read_crl(_string(document, "pck_crl"), "pck_crl"),
        pck_crl_issuer_chain=read_issuer_chain(
            _string(document, "pck_crl_issuer_chain"), "pck_crl_issuer_chain"
        ),
        root_ca_crl=read_crl(_string(document, "root_ca_crl"), "root_ca_crl"),
        tcb_info=_utf8(_string(document, "tcb_info"), "tcb_info"),
        tcb_info_signature=decode_hex(
            _string(document, "tcb_info_signature"), "tcb_info_signature"
        ),
        tcb_info_issuer_chain=read_issuer_chain(
            _string(document, "tcb_info_issuer_chain"), "tcb_info_issuer_chain"
        ),
        qe_identity=_utf8(_string(document, "qe_identity"), "qe_identity"),
        qe_identity_signature=decode_hex(
            _string(document, "qe_identity_signature"), "qe_identity_signature"
        ),
        qe_identity_issuer_chain=read_issuer_chain(
            _string(document, "qe_identity_issuer_chain"), "qe_identity_issuer_chain"
        ),
    )


_BUNDLE_KEYS = frozenset({"format", "version", "fetched_from", "fetched_at", *_SIGNED_FIELDS})


def _from_bundle(document: dict[str, Any]) -> Collateral:
    if document.get("format") != BUNDLE_FORMAT:
        raise CollateralFormatError(f"format: expected {BUNDLE_FORMAT!r}")
    version = document.get("version")
    if type(version) is not int or version != BUNDLE_VERSION:
        raise CollateralFormatError(f"version: unsupported bundle version {version!r}")
    unknown = sorted(set(document) - _BUNDLE_KEYS)
    if unknown:
        raise CollateralFormatError(f"{unknown[0]}: unknown member in a version 1 bundle")
    values = {name: decode_base64(_string(document, name), name) for name in _SIGNED_FIELDS}
    fetched_from = document.get("fetched_from")
    if fetched_from is not None and not isinstance(fetched_from, str):
        raise CollateralFormatError("fetched_from: must be a string")
    fetched_at = document.get("fetched_at")
    return Collateral(
        **values,
        fetched_from=fetched_from,
        fetched_at=None if fetched_at is None else _parse_time(fetched_at),
    )


def _signed_member(response: bytes, key: str, name: str) -> tuple[bytes, bytes]:
    if not isinstance(response, bytes | bytearray | memoryview):
        raise TypeError(f"{name} response must be bytes")
    if len(response) > MAX_COLLATERAL_BYTES:
        raise CollateralFormatError(f"{name}: response of more than {MAX_COLLATERAL_BYTES} bytes")
    try:
        signed, document = extract_member_bytes(bytes(response), key)
    except SignedJsonError as e:
        raise CollateralFormatError(f"{name}: {e}") from e
    signature = document.get("signature")
    if not isinstance(signature, str):
        raise CollateralFormatError(f"{name}_signature: missing from the response")
    return signed, decode_hex(signature, f"{name}_signature")


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise CollateralFormatError("fetched_at: must be an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise CollateralFormatError("fetched_at: not an RFC 3339 date-time") from e
    if parsed.utcoffset() is None:
        raise CollateralFormatError("fetched_at: must carry a time zone (e.g. Z)")
    return parsed
