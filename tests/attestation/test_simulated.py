from __future__ import annotations

import contextlib
import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.attestation.errors import QuoteFormatError, QuoteVerificationError
from veil.attestation.result import Tee
from veil.attestation.simulated import (
    SIMULATED_QUOTE_LAYOUT,
    SIMULATED_QUOTE_MAGIC,
    SIMULATED_QUOTE_SIZE,
    SimulationRoot,
    is_simulated_quote,
    issue_simulated_quote,
    parse_simulated_quote,
    verify_simulated_quote,
)
from veil.errors import FormatError

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ROOT = SimulationRoot.generate()
MEASUREMENT = bytes(range(48))
IMAGE = bytes(range(48, 96))
REPORT_DATA = bytes(range(100, 164))
PLATFORM_ID = b"P" * 16


def _quote(
    *, debug: bool = False, now: datetime | None = NOW, root: SimulationRoot = ROOT
) -> bytes:
    return issue_simulated_quote(
        root,
        measurement=MEASUREMENT,
        image=IMAGE,
        report_data=REPORT_DATA,
        platform_id=PLATFORM_ID,
        debug=debug,
        now=now,
    )


def test_layout_table_is_contiguous_and_totals_the_size() -> None:
    assert SIMULATED_QUOTE_LAYOUT.total == SIMULATED_QUOTE_SIZE == 296
    assert [item.name for item in SIMULATED_QUOTE_LAYOUT.fields][6:9] == [
        "measurement",
        "image",
        "report_data",
    ]


def test_roundtrip_verifies_as_simulated() -> None:
    verified = verify_simulated_quote(_quote(), root_public_key=ROOT.public_key_bytes(), now=NOW)
    assert verified.tee is Tee.SIMULATED
    assert verified.report_data == REPORT_DATA
    assert verified.debug is False
    assert verified.fmspc is None
    assert verified.verified_at == NOW
    assert verified.measurements == {
        "measurement": MEASUREMENT.hex(),
        "image": IMAGE.hex(),
        "platform_id": PLATFORM_ID.hex(),
        "report_data": REPORT_DATA.hex(),
    }


def test_debug_flag_is_carried() -> None:
    quote = _quote(debug=True)
    assert parse_simulated_quote(quote).debug is True
    verified = verify_simulated_quote(quote, root_public_key=ROOT.public_key_bytes(), now=NOW)
    assert verified.debug is True


def test_issue_time_is_optional() -> None:
    parsed = parse_simulated_quote(_quote(now=None))
    assert parsed.issued_at is None
    assert parse_simulated_quote(_quote()).issued_at == NOW


def test_magic_and_sniffing() -> None:
    quote = _quote()
    assert quote.startswith(SIMULATED_QUOTE_MAGIC)
    assert is_simulated_quote(quote)
    assert not is_simulated_quote(b"\x03\x00\x02\x00" + bytes(60))
    assert not is_simulated_quote(b"")


def test_pem_roundtrip_keeps_the_key() -> None:
    again = SimulationRoot.from_pem(ROOT.to_pem())
    assert again.public_key_bytes() == ROOT.public_key_bytes()
    verify_simulated_quote(_quote(root=again), root_public_key=ROOT.public_key_bytes(), now=NOW)


def test_repr_hides_the_private_key() -> None:
    text = repr(ROOT)
    assert "PRIVATE" not in text
    assert ROOT.to_pem().decode() not in text


def test_from_pem_rejects_garbage_and_other_key_types() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(FormatError):
        SimulationRoot.from_pem(b"not a key")
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(FormatError, match="Ed25519"):
        SimulationRoot.from_pem(p256)


# --- attacks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offset", [16, 24, 40, 88, 135, 136, 199, 200, 232, 295], ids=lambda o: f"byte{o}"
)
def test_tampered_byte_is_refused(offset: int) -> None:
    quote = bytearray(_quote())
    quote[offset] ^= 0x01
    with pytest.raises(QuoteVerificationError):
        verify_simulated_quote(bytes(quote), root_public_key=ROOT.public_key_bytes(), now=NOW)


@pytest.mark.parametrize("offset", [40, 88], ids=["measurement", "image"])
def test_tampered_register_fails_the_signature_step(offset: int) -> None:
    quote = bytearray(_quote())
    quote[offset] ^= 0x01
    with pytest.raises(QuoteVerificationError, match="step S3: simulated quote signature"):
        verify_simulated_quote(bytes(quote), root_public_key=ROOT.public_key_bytes(), now=NOW)


def test_debug_flag_cannot_be_cleared() -> None:
    quote = bytearray(_quote(debug=True))
    quote[10] = 0
    with pytest.raises(QuoteVerificationError, match="S3"):
        verify_simulated_quote(bytes(quote), root_public_key=ROOT.public_key_bytes(), now=NOW)


def test_other_root_is_refused() -> None:
    other = SimulationRoot.generate()
    with pytest.raises(QuoteVerificationError, match=r"step S2: .*different simulation root"):
        verify_simulated_quote(_quote(), root_public_key=other.public_key_bytes(), now=NOW)


def test_other_root_with_forged_key_id_fails_signature() -> None:
    other = SimulationRoot.generate()
    forged = bytearray(_quote(root=other))
    forged[200:232] = ROOT.key_id()
    with pytest.raises(QuoteVerificationError, match="S3"):
        verify_simulated_quote(bytes(forged), root_public_key=ROOT.public_key_bytes(), now=NOW)


def test_quote_from_the_future_is_refused() -> None:
    quote = _quote(now=NOW + timedelta(hours=1))
    with pytest.raises(QuoteVerificationError, match=r"step S4: .*future"):
        verify_simulated_quote(quote, root_public_key=ROOT.public_key_bytes(), now=NOW)
    # A small clock skew is tolerated.
    verify_simulated_quote(
        _quote(now=NOW + timedelta(minutes=1)), root_public_key=ROOT.public_key_bytes(), now=NOW
    )


def test_truncated_and_extended_quotes_are_format_errors() -> None:
    quote = _quote()
    for bad in (quote[:-1], quote + b"\x00", quote[:9], quote[:8]):
        with pytest.raises(QuoteFormatError):
            parse_simulated_quote(bad)


def test_unknown_version_flags_and_reserved_are_refused() -> None:
    quote = _quote()
    with pytest.raises(QuoteFormatError, match="version 3"):
        parse_simulated_quote(quote[:8] + b"\x03\x00" + quote[10:])
    with pytest.raises(QuoteFormatError, match="flags"):
        parse_simulated_quote(quote[:10] + b"\x02\x00" + quote[12:])
    with pytest.raises(QuoteFormatError, match="reserved"):
        parse_simulated_quote(quote[:12] + b"\x01\x00\x00\x00" + quote[16:])
    with pytest.raises(QuoteFormatError, match="negative"):
        parse_simulated_quote(quote[:16] + struct.pack("<q", -5) + quote[24:])


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone"):
        verify_simulated_quote(
            _quote(), root_public_key=ROOT.public_key_bytes(), now=datetime(2026, 1, 1)
        )


def test_issue_checks_field_sizes() -> None:
    with pytest.raises(ValueError, match="measurement"):
        issue_simulated_quote(
            ROOT, measurement=b"x", image=IMAGE, report_data=REPORT_DATA, platform_id=PLATFORM_ID
        )
    with pytest.raises(ValueError, match="image"):
        issue_simulated_quote(
            ROOT,
            measurement=MEASUREMENT,
            image=b"x",
            report_data=REPORT_DATA,
            platform_id=PLATFORM_ID,
        )


def test_version_1_without_image_register_is_refused_clearly() -> None:
    # A v1 quote: the v2 fields without the image register, version 1.
    quote = _quote()
    v1 = quote[:8] + b"\x01\x00" + quote[10:88] + quote[136:232] + bytes(64)
    assert len(v1) == 248
    with pytest.raises(QuoteFormatError, match=r"version 1 carries no image register.*restart"):
        parse_simulated_quote(v1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parser_raises_only_quote_format_error(data: bytes) -> None:
    with contextlib.suppress(QuoteFormatError):
        parse_simulated_quote(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=288, max_size=288))
def test_parser_on_magic_prefixed_noise(data: bytes) -> None:
    blob = SIMULATED_QUOTE_MAGIC + data
    with contextlib.suppress(QuoteFormatError):
        parse_simulated_quote(blob)
