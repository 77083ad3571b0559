"""Malformed, truncated, oversized and unsupported quotes each get a QuoteFormatError."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.attestation._quote_builder import (
    SGX_V3,
    TDX_V4,
    TDX_V5,
    TDX_V5_TD15EX,
    assemble,
    signature_data,
)
from veil.attestation.errors import QuoteFormatError
from veil.attestation.quote import (
    MAX_QUOTE_BYTES,
    MAX_QUOTE_TEXT_BYTES,
    Quote,
    parse_quote,
    parse_quote_text,
)
from veil.errors import FormatError


def real(vectors_dir: Path, relative: str) -> tuple[bytes, Quote]:
    data = (vectors_dir / relative).read_bytes()
    return data, parse_quote(data)


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    return data[:offset] + struct.pack(fmt, value) + data[offset + struct.calcsize(fmt) :]


@pytest.mark.parametrize("relative", [SGX_V3, TDX_V4, TDX_V5, TDX_V5_TD15EX])
def test_builder_reproduces_the_real_quote(vectors_dir: Path, relative: str) -> None:
    """The generator used below is faithful: unchanged parts re-assemble to the original."""
    _, quote = real(vectors_dir, relative)
    assert assemble(quote, signature_data(quote)) == quote.raw


def test_quote_error_is_a_format_error() -> None:
    assert issubclass(QuoteFormatError, FormatError)


@pytest.mark.parametrize("relative", [SGX_V3, TDX_V4, TDX_V5])
def test_every_truncation_is_refused(vectors_dir: Path, relative: str) -> None:
    data, quote = real(vectors_dir, relative)
    for length in range(len(quote.raw)):
        with pytest.raises(QuoteFormatError):
            parse_quote(data[:length])


def test_truncation_message_names_the_field(vectors_dir: Path) -> None:
    data, _ = real(vectors_dir, SGX_V3)
    with pytest.raises(QuoteFormatError, match=r"report body needs 384 bytes at offset 48, 2 left"):
        parse_quote(data[:50])


@pytest.mark.parametrize("version", [0, 1, 2, 6, 0xFFFF])
def test_unsupported_version_is_refused(vectors_dir: Path, version: int) -> None:
    data, _ = real(vectors_dir, SGX_V3)
    with pytest.raises(QuoteFormatError, match=f"unsupported quote version {version}"):
        parse_quote(patch(data, 0, "<H", version))


def test_tdx_tee_in_a_v3_quote_is_refused(vectors_dir: Path) -> None:
    data, _ = real(vectors_dir, SGX_V3)
    with pytest.raises(QuoteFormatError, match="TEE type 0x81 is not valid in a version 3"):
        parse_quote(patch(data, 4, "<I", 0x81))


@pytest.mark.parametrize("tee_type", [0x01, 0x80, 0x82, 0xFFFFFFFF])
def test_unknown_tee_type_is_refused(vectors_dir: Path, tee_type: int) -> None:
    data, _ = real(vectors_dir, TDX_V4)
    with pytest.raises(QuoteFormatError, match="TEE type"):
        parse_quote(patch(data, 4, "<I", tee_type))


def test_sgx_tee_type_on_a_td_body_does_not_parse_as_td(vectors_dir: Path) -> None:
    """A v4 quote claiming SGX is read with the 384-byte SGX body: the framing then fails."""
    data, _ = real(vectors_dir, TDX_V4)
    with pytest.raises(QuoteFormatError):
        parse_quote(patch(data, 4, "<I", 0))


@pytest.mark.parametrize("key_type", [0, 1, 3, 4])
def test_unsupported_attestation_key_type_is_refused(vectors_dir: Path, key_type: int) -> None:
    data, _ = real(vectors_dir, SGX_V3)
    with pytest.raises(QuoteFormatError, match=f"unsupported attestation key type {key_type}"):
        parse_quote(patch(data, 2, "<H", key_type))


@pytest.mark.parametrize("body_type", [0, 5, 0xFFFF])
def test_unknown_v5_body_type_is_refused(vectors_dir: Path, body_type: int) -> None:
    data, _ = real(vectors_dir, TDX_V5)
    with pytest.raises(QuoteFormatError, match=f"unsupported quote body type {body_type}"):
        parse_quote(patch(data, 48, "<H", body_type))


def test_v5_body_type_must_match_the_tee(vectors_dir: Path) -> None:
    data, _ = real(vectors_dir, TDX_V5)
    with pytest.raises(QuoteFormatError, match="body type 1 does not match TEE type 0x81"):
        parse_quote(patch(data, 48, "<H", 1))


@pytest.mark.parametrize("size", [0, 584, 647, 649, 885, 0xFFFFFFFF])
def test_v5_body_size_must_match_the_body_type(vectors_dir: Path, size: int) -> None:
    data, _ = real(vectors_dir, TDX_V5)
    with pytest.raises(QuoteFormatError, match=f"must be 648 bytes, header says {size}"):
        parse_quote(patch(data, 50, "<I", size))


def test_v5_body_type_downgrade_to_td10_is_refused(vectors_dir: Path) -> None:
    """Relabelling a TD 1.5 body as TD 1.0 (size 584) shifts the framing: refused."""
    data, _ = real(vectors_dir, TDX_V5)
    relabelled = patch(patch(data, 48, "<H", 2), 50, "<I", 584)
    with pytest.raises(QuoteFormatError):
        parse_quote(relabelled)


@pytest.mark.parametrize("relative", [SGX_V3, TDX_V4])
def test_signature_data_length_beyond_the_quote_is_refused(
    vectors_dir: Path, relative: str
) -> None:
    _, quote = real(vectors_dir, relative)
    forged = assemble(quote, signature_data(quote), length_delta=1)
    with pytest.raises(QuoteFormatError, match="signature data needs"):
        parse_quote(forged)


@pytest.mark.parametrize("relative", [SGX_V3, TDX_V4])
def test_signature_data_length_short_of_its_content_is_refused(
    vectors_dir: Path, relative: str
) -> None:
    _, quote = real(vectors_dir, relative)
    content = signature_data(quote)
    # The declared length stops one byte early; the last byte then looks like trailing data.
    forged = assemble(quote, content, length_delta=-1)
    with pytest.raises(QuoteFormatError):
        parse_quote(forged)


@pytest.mark.parametrize("relative", [SGX_V3, TDX_V4])
def test_slack_inside_the_signature_data_is_refused(vectors_dir: Path, relative: str) -> None:
    _, quote = real(vectors_dir, relative)
    forged = assemble(quote, signature_data(quote, inner_extra=b"\0"))
    with pytest.raises(QuoteFormatError, match="unexpected bytes at its end"):
        parse_quote(forged)


@pytest.mark.parametrize("cert_type", [1, 2, 3, 4, 6, 7, 0xFFFF])
def test_v3_certification_data_other_than_a_pck_chain_is_refused(
    vectors_dir: Path, cert_type: int
) -> None:
    _, quote = real(vectors_dir, SGX_V3)
    forged = assemble(quote, signature_data(quote, cert_type=cert_type))
    with pytest.raises(QuoteFormatError, match=f"unsupported certification data type {cert_type}"):
        parse_quote(forged)


@pytest.mark.parametrize("outer_type", [1, 5, 7])
def test_v4_outer_certification_data_must_be_a_qe_report(
    vectors_dir: Path, outer_type: int
) -> None:
    _, quote = real(vectors_dir, TDX_V4)
    forged = assemble(quote, signature_data(quote, outer_type=outer_type))
    with pytest.raises(
        QuoteFormatError, match=f"certification data type {outer_type} in a version 4"
    ):
        parse_quote(forged)


@pytest.mark.parametrize("cert_type", [1, 4, 6, 7])
def test_v4_nested_certification_data_must_be_a_pck_chain(
    vectors_dir: Path, cert_type: int
) -> None:
    _, quote = real(vectors_dir, TDX_V4)
    forged = assemble(quote, signature_data(quote, cert_type=cert_type))
    with pytest.raises(QuoteFormatError, match=f"unsupported certification data type {cert_type} "):
        parse_quote(forged)


@pytest.mark.parametrize("delta", [-1, 1, 1 << 20])
def test_v4_outer_certification_size_must_frame_its_content(vectors_dir: Path, delta: int) -> None:
    _, quote = real(vectors_dir, TDX_V4)
    forged = assemble(quote, signature_data(quote, outer_size_delta=delta))
    with pytest.raises(QuoteFormatError):
        parse_quote(forged)


@pytest.mark.parametrize("relative", [SGX_V3, TDX_V4])
@pytest.mark.parametrize("delta", [-1, 1, 1 << 30])
def test_pck_chain_size_must_frame_the_chain(vectors_dir: Path, relative: str, delta: int) -> None:
    _, quote = real(vectors_dir, relative)
    forged = assemble(quote, signature_data(quote, chain_size_delta=delta))
    with pytest.raises(QuoteFormatError):
        parse_quote(forged)


@pytest.mark.parametrize("chain", [b"", b"\0", b" \r\n"])
def test_empty_pck_chain_is_refused(vectors_dir: Path, chain: bytes) -> None:
    _, quote = real(vectors_dir, SGX_V3)
    with pytest.raises(QuoteFormatError, match="PCK certificate chain is empty"):
        parse_quote(assemble(quote, signature_data(quote, chain=chain)))


def test_qe_auth_data_of_any_length_is_framed(vectors_dir: Path) -> None:
    _, quote = real(vectors_dir, SGX_V3)
    parsed = parse_quote(assemble(quote, signature_data(quote, auth=b"\x07" * 100)))
    assert parsed.certification.qe_auth_data == b"\x07" * 100
    parsed = parse_quote(assemble(quote, signature_data(quote, auth=b"")))
    assert parsed.certification.qe_auth_data == b""


@pytest.mark.parametrize("tail", [b"\x01", b"\0" * 10 + b"\x01", b"garbage"])
def test_non_zero_trailing_bytes_are_refused(vectors_dir: Path, tail: bytes) -> None:
    _, quote = real(vectors_dir, SGX_V3)
    with pytest.raises(QuoteFormatError, match="not zero padding"):
        parse_quote(quote.raw + tail)


def test_zero_padding_is_dropped(vectors_dir: Path) -> None:
    _, quote = real(vectors_dir, SGX_V3)
    assert parse_quote(quote.raw + bytes(1000)) == quote


def test_oversized_quote_is_refused(vectors_dir: Path) -> None:
    _, quote = real(vectors_dir, SGX_V3)
    padded = quote.raw + bytes(MAX_QUOTE_BYTES - len(quote.raw))
    assert parse_quote(padded) == quote
    with pytest.raises(QuoteFormatError, match=f"more than {MAX_QUOTE_BYTES}"):
        parse_quote(padded + b"\0")


def test_mutated_fields_are_exposed_not_judged(vectors_dir: Path) -> None:
    """Semantic checks (vendor id, signatures) are the verifier's: parsing keeps the values."""
    data, _ = real(vectors_dir, SGX_V3)
    forged = data[:12] + bytes(16) + data[28:]
    assert parse_quote(forged).header.qe_vendor_id == bytes(16)


@pytest.mark.parametrize("value", ["not bytes", 42, None])
def test_parse_quote_rejects_non_bytes_as_misuse(value: object) -> None:
    with pytest.raises(TypeError):
        parse_quote(value)  # type: ignore[arg-type]


def test_parse_quote_accepts_bytearray_and_memoryview(vectors_dir: Path) -> None:
    data, quote = real(vectors_dir, SGX_V3)
    assert parse_quote(bytearray(data)) == quote
    assert parse_quote(memoryview(data)) == quote


# ----- hex text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"0a0B", b"\x0a\x0b"),
        (b"0x0a0b", b"\x0a\x0b"),
        (b"0X0A0B\n", b"\x0a\x0b"),
        (b"  0a 0b\r\n\t0c  ", b"\x0a\x0b\x0c"),
        ("0x0a\n0b", b"\x0a\x0b"),
    ],
)
def test_quote_text_decodes(text: bytes | str, expected: bytes) -> None:
    assert parse_quote_text(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "empty"),
        (b"0x", "empty"),
        (b" \n", "empty"),
        (b"abc", "odd number"),
        (b"zz", "not hexadecimal"),
        (b"0x0x00", "not hexadecimal"),
        (b"0a\x000b", "not hexadecimal"),
        ("0aé0", "non-ASCII"),
        (b"0a\xff0b", "not hexadecimal"),
    ],
)
def test_bad_quote_text_is_refused(text: bytes | str, message: str) -> None:
    with pytest.raises(QuoteFormatError, match=message):
        parse_quote_text(text)


def test_oversized_quote_text_is_refused() -> None:
    with pytest.raises(QuoteFormatError, match="more than"):
        parse_quote_text(b"0" * (MAX_QUOTE_TEXT_BYTES + 2))


def test_real_hex_file_round_trips(vectors_dir: Path) -> None:
    text = (vectors_dir / "phala-dcap-qvl/tdx-quote.hex").read_bytes()
    data = parse_quote_text(text)
    assert data.hex() == text.strip().removeprefix(b"0x").decode().lower()


# ----- SGX in the newer quote versions -------------------------------------------------------


def sgx_parts_as_version(quote: Quote, version: int) -> bytes:
    """The real SGX v3 quote's parts re-framed as a v4 or v5 quote (type-6 certification)."""
    header = patch(quote.header.raw, 0, "<H", version)
    framing = struct.pack("<HI", 1, 384) if version == 5 else b""
    v3_signature_data = signature_data(quote)
    head, block = v3_signature_data[:128], v3_signature_data[128:]
    wrapped = head + struct.pack("<HI", 6, len(block)) + block
    return assemble(quote, wrapped, signed=header + framing + quote.body.raw)


@pytest.mark.parametrize("version", [4, 5])
def test_sgx_body_in_v4_and_v5_quotes(vectors_dir: Path, version: int) -> None:
    _, v3 = real(vectors_dir, SGX_V3)
    quote = parse_quote(sgx_parts_as_version(v3, version))
    assert (quote.version, quote.tee, quote.body_type) == (version, v3.tee, 1)
    assert quote.body == v3.body
    assert quote.certification == v3.certification
    assert len(quote.signed_data) == 48 + (6 if version == 5 else 0) + 384


def test_v3_signature_data_in_a_v4_quote_is_refused(vectors_dir: Path) -> None:
    """A v3 quote relabelled v4 reads the QE report's first bytes as a certification type."""
    data, _ = real(vectors_dir, SGX_V3)
    with pytest.raises(QuoteFormatError, match="certification data type"):
        parse_quote(patch(data, 0, "<H", 4))
