"""Property tests: on any input, the quote parsers return a model or raise QuoteFormatError."""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.attestation._quote_builder import SGX_V3, TDX_V4, TDX_V5, TDX_V5_TD15EX
from veil.attestation.errors import QuoteFormatError
from veil.attestation.quote import Quote, parse_quote, parse_quote_text

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
REAL_QUOTES = [SGX_V3, TDX_V4, TDX_V5, TDX_V5_TD15EX]


def parse_or_format_error(data: bytes) -> Quote | None:
    """Anything other than a Quote or a QuoteFormatError fails the property."""
    try:
        quote = parse_quote(data)
    except QuoteFormatError:
        return None
    # A parse that succeeds is internally consistent.
    assert data.startswith(quote.raw)
    assert not any(data[len(quote.raw) :])
    assert quote.raw.startswith(quote.signed_data)
    return quote


def length_fields(quote: Quote) -> dict[str, tuple[int, str]]:
    """Offset and format of every type/length field of a real quote: where mutations bite."""
    fields = {"version": (0, "<H"), "key_type": (2, "<H"), "tee_type": (4, "<I")}
    if quote.version == 5:
        fields |= {"body_type": (48, "<H"), "body_size": (50, "<I")}
    position = len(quote.signed_data)
    fields["signature_data"] = (position, "<I")
    position += 4 + 64 + 64
    if quote.version != 3:
        fields |= {"outer_type": (position, "<H"), "outer_size": (position + 2, "<I")}
        position += 6
    position += 384 + 64
    fields["auth_size"] = (position, "<H")
    position += 2 + len(quote.certification.qe_auth_data)
    fields |= {"cert_type": (position, "<H"), "cert_size": (position + 2, "<I")}
    return fields


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    parse_or_format_error(data)


@PROPERTY_SETTINGS
@given(
    header=st.sampled_from(
        [
            struct.pack("<HHI", 3, 2, 0),
            struct.pack("<HHI", 4, 2, 0x81),
            struct.pack("<HHI", 5, 2, 0x81),
            struct.pack("<HHI", 5, 2, 0),
        ]
    ),
    rest=st.binary(max_size=2048),
)
def test_valid_header_then_arbitrary_bytes(header: bytes, rest: bytes) -> None:
    parse_or_format_error(header + bytes(40) + rest)


@PROPERTY_SETTINGS
@given(
    which=st.sampled_from(REAL_QUOTES),
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
        min_size=1,
        max_size=4,
    ),
    targeted=st.booleans(),
)
def test_mutated_real_quotes(
    vectors_dir: Path, which: str, edits: list[tuple[int, int]], targeted: bool
) -> None:
    original = (vectors_dir / which).read_bytes()
    data = bytearray(original)
    hot = [offset for offset, _ in length_fields(parse_quote(original)).values()]
    for index, value in edits:
        position = hot[index % len(hot)] + (value % 4) if targeted else index % len(data)
        data[position % len(data)] = value
    parse_or_format_error(bytes(data))


@PROPERTY_SETTINGS
@given(
    which=st.sampled_from(REAL_QUOTES),
    cut=st.integers(min_value=0),
    suffix=st.binary(max_size=64),
)
def test_truncated_real_quotes_with_junk(
    vectors_dir: Path, which: str, cut: int, suffix: bytes
) -> None:
    original = (vectors_dir / which).read_bytes()
    parse_or_format_error(original[: cut % len(original)] + suffix)


@PROPERTY_SETTINGS
@given(
    which=st.sampled_from(REAL_QUOTES),
    name=st.sampled_from(
        ["body_size", "signature_data", "outer_size", "auth_size", "cert_type", "cert_size"]
    ),
    value=st.integers(min_value=0, max_value=0xFFFFFFFF),
)
def test_real_quotes_with_forged_lengths(
    vectors_dir: Path, which: str, name: str, value: int
) -> None:
    original = (vectors_dir / which).read_bytes()
    fields = length_fields(parse_quote(original))
    if name not in fields:  # e.g. no outer certification data in a v3 quote
        name = "signature_data"
    offset, fmt = fields[name]
    packed = struct.pack(fmt, value % (1 << (8 * struct.calcsize(fmt))))
    parse_or_format_error(original[:offset] + packed + original[offset + len(packed) :])


@PROPERTY_SETTINGS
@given(text=st.one_of(st.binary(max_size=512), st.text(max_size=512)))
def test_quote_text_on_any_input(text: bytes | str) -> None:
    try:
        decoded = parse_quote_text(text)
    except QuoteFormatError:
        return
    assert isinstance(decoded, bytes)
    assert decoded


@PROPERTY_SETTINGS
@given(data=st.binary(min_size=1, max_size=256), prefix=st.booleans(), upper=st.booleans())
def test_quote_text_round_trips(data: bytes, prefix: bool, upper: bool) -> None:
    text = data.hex().upper() if upper else data.hex()
    text = ("0x" if prefix else "") + "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    assert parse_quote_text(text.encode()) == data


def test_length_fields_point_at_the_real_fields(vectors_dir: Path) -> None:
    """Guards the mutation targets above: each offset holds the value the parse found."""
    for which in REAL_QUOTES:
        data = (vectors_dir / which).read_bytes()
        quote = parse_quote(data)
        fields = length_fields(quote)

        values = {
            name: int(struct.unpack_from(fmt, data, offset)[0])
            for name, (offset, fmt) in fields.items()
        }
        assert values["version"] == quote.version
        assert values["signature_data"] == len(quote.raw) - len(quote.signed_data) - 4
        assert values["auth_size"] == len(quote.certification.qe_auth_data)
        assert values["cert_type"] == 5
        assert values["cert_size"] == len(quote.certification.pck_cert_chain_pem)
        if quote.version != 3:
            assert values["outer_type"] == 6
