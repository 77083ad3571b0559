"""Bad-vector generator: re-assemble real quotes from their parsed parts, one thing changed."""

from __future__ import annotations

import struct

from veil.attestation.quote import Quote

#: The real quotes the attack tests start from (one per signature-data layout).
SGX_V3 = "phala-dcap-qvl/sgx_quote"
TDX_V4 = "phala-dcap-qvl/tdx_quote"
TDX_V5 = "phala-dcap-qvl/tdx_quote_outdated"
TDX_V5_TD15EX = "phala-dcap-qvl/sdist-0.7.0/tdx_quote_td15ex"


def qe_certification_block(
    quote: Quote,
    *,
    cert_type: int = 5,
    chain: bytes | None = None,
    auth: bytes | None = None,
    chain_size_delta: int = 0,
) -> bytes:
    """QE report ‖ signature ‖ auth data ‖ certification data (type, size, PCK chain)."""
    certification = quote.certification
    chain = certification.pck_cert_chain_pem if chain is None else chain
    auth = certification.qe_auth_data if auth is None else auth
    return (
        certification.qe_report.raw
        + certification.qe_report_signature
        + struct.pack("<H", len(auth))
        + auth
        + struct.pack("<HI", cert_type, len(chain) + chain_size_delta)
        + chain
    )


def signature_data(
    quote: Quote,
    *,
    outer_type: int = 6,
    outer_size_delta: int = 0,
    inner_extra: bytes = b"",
    cert_type: int = 5,
    chain: bytes | None = None,
    auth: bytes | None = None,
    chain_size_delta: int = 0,
) -> bytes:
    """The signature data of ``quote``'s version, optionally altered."""
    block = qe_certification_block(
        quote, cert_type=cert_type, chain=chain, auth=auth, chain_size_delta=chain_size_delta
    )
    if quote.version == 3:
        return quote.signature + quote.attestation_key + block + inner_extra
    return (
        quote.signature
        + quote.attestation_key
        + struct.pack("<HI", outer_type, len(block) + len(inner_extra) + outer_size_delta)
        + block
        + inner_extra
    )


def assemble(
    quote: Quote, data: bytes, *, length_delta: int = 0, signed: bytes | None = None
) -> bytes:
    """signed data ‖ u32 length ‖ signature data."""
    prefix = quote.signed_data if signed is None else signed
    return prefix + struct.pack("<I", len(data) + length_delta) + data
