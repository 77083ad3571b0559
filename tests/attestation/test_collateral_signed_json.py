"""The signed-JSON cutter and the field limits, at their edges."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from veil._layout import Layout
from veil.attestation import _signed_json
from veil.attestation._collateral_fields import (
    MAX_CRL_BYTES,
    MAX_ISSUER_CHAIN_BYTES,
    check_crl,
    check_issuer_chain,
    read_crl,
    read_issuer_chain,
)
from veil.attestation._reports import EnclaveReport, TdReport
from veil.attestation._signed_json import SignedJsonError, extract_member_bytes
from veil.attestation.collateral import MAX_COLLATERAL_BYTES, Collateral
from veil.attestation.errors import CollateralFormatError, QuoteFormatError
from veil.attestation.quote import QuoteHeader


@pytest.mark.parametrize(
    ("text", "key", "cut"),
    [
        (b'{"a":{"b":"}"},"c":1}', "a", b'{"b":"}"}'),
        (b'{"a":"x\\"}","b":[1,{"c":"]"}]}', "b", b'[1,{"c":"]"}]'),
        (b'{"\\u0061":{"k":true}}', "a", b'{"k":true}'),
        (b'{"a":-1.5e3 ,"b":null}', "a", b"-1.5e3"),
        (b'{"a\\\\":{"x":"\\\\"}}', "a\\", b'{"x":"\\\\"}'),
    ],
)
def test_cut_is_exact(text: bytes, key: str, cut: bytes) -> None:
    assert extract_member_bytes(text, key)[0] == cut


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (b"[1]", "a", "not a JSON object"),
        (b'{"b":1}', "a", "no 'a' member"),
        (b'{"a":1,"a":2}', "a", "duplicate key"),
        (b'{"a":{"b":1,"b":1}}', "a", "duplicate key"),
        (b'{"a":1', "a", "invalid JSON"),
        (b'\xef\xbb\xbf {"a":{}}', "a", "invalid JSON"),
    ],
)
def test_cut_refuses(text: bytes, key: str, message: str) -> None:
    with pytest.raises(SignedJsonError, match=message):
        extract_member_bytes(text, key)


@pytest.mark.parametrize(
    ("function", "data", "message"),
    [
        (_signed_json._end_of_string, b'"abc', "unterminated string"),
        (_signed_json._end_of_string, b"abc", "expected"),
        (_signed_json._end_of_value, b"", "missing value"),
        (_signed_json._end_of_value, b'{"a":[1,', "unterminated object or array"),
    ],
)
def test_scanner_guards_hold_on_malformed_input(
    function: Callable[[bytes, int], int], data: bytes, message: str
) -> None:
    """The scanner runs after a full parse, but its guards must still stop at bad bytes."""
    with pytest.raises(SignedJsonError, match=message):
        function(data, 0)


def test_cut_that_does_not_reparse_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the scanner and the parser ever disagree, the cut is refused rather than trusted."""
    real_end = _signed_json._end_of_value
    monkeypatch.setattr(
        _signed_json, "_end_of_value", lambda data, index: real_end(data, index) - 1
    )
    with pytest.raises(SignedJsonError):
        extract_member_bytes(b'{"a":{"b":1}}', "a")


def test_missing_member_span_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A member the parser reports but the scanner cannot find is refused, not guessed."""
    real_loads = _signed_json.loads_strict
    document = b'{"a":1}'

    def parser_seeing_more(data: bytes) -> object:
        return {"a": 1, "z": 2} if data == document else real_loads(data)

    monkeypatch.setattr(_signed_json, "loads_strict", parser_seeing_more)
    with pytest.raises(SignedJsonError, match="could not locate the 'z' member"):
        extract_member_bytes(document, "z")


def test_oversized_crl_is_refused() -> None:
    with pytest.raises(CollateralFormatError, match=f"pck_crl: more than {MAX_CRL_BYTES}"):
        check_crl(b"\x30" + bytes(MAX_CRL_BYTES), "pck_crl")
    with pytest.raises(CollateralFormatError, match="root_ca_crl: more than"):
        read_crl(b"0" * (2 * MAX_CRL_BYTES + 4098), "root_ca_crl")


def test_oversized_issuer_chain_is_refused() -> None:
    with pytest.raises(CollateralFormatError, match=f"more than {MAX_ISSUER_CHAIN_BYTES}"):
        check_issuer_chain(b" " * (MAX_ISSUER_CHAIN_BYTES + 1), "tcb_info_issuer_chain")
    with pytest.raises(CollateralFormatError, match="more than"):
        read_issuer_chain(b" " * (3 * MAX_ISSUER_CHAIN_BYTES + 1), "tcb_info_issuer_chain")


def test_oversized_pcs_response_is_refused() -> None:
    with pytest.raises(CollateralFormatError, match=r"^tcb_info: response of more than"):
        Collateral.from_pcs_responses(
            tcb_info_response=b" " * (MAX_COLLATERAL_BYTES + 1),
            tcb_info_issuer_chain="",
            qe_identity_response=b"{}",
            qe_identity_issuer_chain="",
            pck_crl=b"",
            pck_crl_issuer_chain="",
            root_ca_crl=b"",
        )


def test_pcs_response_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        Collateral.from_pcs_responses(
            tcb_info_response="{}",  # type: ignore[arg-type]
            tcb_info_issuer_chain="",
            qe_identity_response=b"{}",
            qe_identity_issuer_chain="",
            pck_crl=b"",
            pck_crl_issuer_chain="",
            root_ca_crl=b"",
        )


@pytest.mark.parametrize("size", [0, 47, 49])
def test_header_needs_48_bytes(size: int) -> None:
    with pytest.raises(QuoteFormatError, match="quote header must be 48 bytes"):
        QuoteHeader.from_bytes(bytes(size))


@pytest.mark.parametrize("size", [0, 383, 385])
def test_enclave_report_needs_384_bytes(size: int) -> None:
    with pytest.raises(QuoteFormatError, match="SGX report body must be 384 bytes"):
        EnclaveReport.from_bytes(bytes(size))


@pytest.mark.parametrize("size", [0, 583, 585, 647, 884, 886])
def test_td_report_sizes_are_exact(size: int) -> None:
    with pytest.raises(QuoteFormatError, match=f"cannot be {size} bytes"):
        TdReport.from_bytes(bytes(size))


@pytest.mark.parametrize(
    ("size", "is_15", "is_ex"), [(584, False, False), (648, True, False), (885, True, True)]
)
def test_td_report_size_selects_the_layout(size: int, is_15: bool, is_ex: bool) -> None:
    report = TdReport.from_bytes(bytes(size))
    assert (report.mr_service_td is not None) is is_15
    assert (report.extension is not None) is is_ex


def test_layout_refuses_duplicate_names() -> None:
    with pytest.raises(ValueError, match="duplicate field names"):
        Layout.of("Twice", 8, (("a", 0, "<I"), ("a", 4, "<I")))
