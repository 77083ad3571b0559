"""Malformed collateral in any format gets a CollateralFormatError that names the field."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from veil.attestation._collateral_fields import (
    MAX_ISSUER_CHAIN_CERTIFICATES,
    MAX_SIGNED_JSON_BYTES,
)
from veil.attestation.collateral import MAX_COLLATERAL_BYTES, Collateral, load_collateral
from veil.attestation.errors import CollateralFormatError
from veil.errors import FormatError

SOURCE = "phala-dcap-qvl/tdx_quote_collateral.json"


@pytest.fixture(scope="module")
def document(vectors_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((vectors_dir / SOURCE).read_bytes())
    return loaded


@pytest.fixture(scope="module")
def collateral(vectors_dir: Path) -> Collateral:
    return Collateral.from_dcap_qvl_json((vectors_dir / SOURCE).read_bytes())


def with_field(document: dict[str, Any], name: str, value: Any) -> bytes:
    changed = dict(document)
    if value is _DELETE:
        del changed[name]
    else:
        changed[name] = value
    return json.dumps(changed).encode()


_DELETE = object()


def refused(data: bytes, field: str, message: str = "", *, reader: Any = None) -> None:
    read = reader or Collateral.from_dcap_qvl_json
    with pytest.raises(CollateralFormatError, match=f"^{field}: .*{message}"):
        read(data)


def test_collateral_error_is_a_format_error() -> None:
    assert issubclass(CollateralFormatError, FormatError)


FIELDS = [
    "pck_crl_issuer_chain",
    "root_ca_crl",
    "pck_crl",
    "tcb_info_issuer_chain",
    "tcb_info",
    "tcb_info_signature",
    "qe_identity_issuer_chain",
    "qe_identity",
    "qe_identity_signature",
]


@pytest.mark.parametrize("field", FIELDS)
def test_missing_field_is_named(document: dict[str, Any], field: str) -> None:
    refused(with_field(document, field, _DELETE), field, "missing")
    refused(with_field(document, field, None), field, "missing")


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", [42, True, [], {}])
def test_non_string_field_is_named(document: dict[str, Any], field: str, value: Any) -> None:
    refused(with_field(document, field, value), field, "must be a string")


@pytest.mark.parametrize("field", ["pck_crl", "root_ca_crl"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("zz", "not valid hex"),
        ("abc", "not valid hex"),
        ("", "empty"),
        ("3000", ""),  # an empty SEQUENCE is framed fine: accepted by format, refused later
        ("020100", "not a single DER SEQUENCE"),
        ("3003020100ff", "not a single DER SEQUENCE"),
        ("30030201", "not a single DER SEQUENCE"),
        ("3080020100", "not a single DER SEQUENCE"),
        ("308500000000020100", "not a single DER SEQUENCE"),
    ],
)
def test_bad_crl_is_named(document: dict[str, Any], field: str, value: str, message: str) -> None:
    data = with_field(document, field, value)
    if value == "3000":
        assert getattr(Collateral.from_dcap_qvl_json(data), field) == b"\x30\x00"
        return
    refused(data, field, message)


def test_crl_with_appended_byte_is_refused(document: dict[str, Any]) -> None:
    refused(with_field(document, "pck_crl", document["pck_crl"] + "00"), "pck_crl", "DER SEQUENCE")


@pytest.mark.parametrize("field", ["tcb_info_signature", "qe_identity_signature"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("00" * 63, "must be 64 bytes"),
        ("00" * 65, "must be 64 bytes"),
        ("", "must be 64 bytes"),
        ("g" * 128, "not valid hex"),
        # A DER-encoded signature is not what Intel sends: refused, not converted.
        ("3044022000" + "00" * 64, "must be 64 bytes"),
    ],
)
def test_bad_signature_is_named(
    document: dict[str, Any], field: str, value: str, message: str
) -> None:
    refused(with_field(document, field, value), field, message)


CHAIN_FIELDS = ["pck_crl_issuer_chain", "tcb_info_issuer_chain", "qe_identity_issuer_chain"]


def pem_block(der: bytes, label: str = "CERTIFICATE") -> str:
    return f"-----BEGIN {label}-----\n{base64.b64encode(der).decode()}\n-----END {label}-----\n"


@pytest.mark.parametrize("field", CHAIN_FIELDS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "no PEM certificate"),
        ("not a pem", "unexpected text after the last PEM block"),
        (pem_block(b"\x30\x00", "PRIVATE KEY"), "a PRIVATE KEY is not a certificate"),
        (pem_block(b"\x02\x01\x00"), "not a single DER SEQUENCE"),
        ("-----BEGIN CERTIFICATE-----\nMA==!\n-----END CERTIFICATE-----\n", "after the last"),
        ("-----BEGIN CERTIFICATE-----\nMA=\n-----END CERTIFICATE-----\n", "not valid base64"),
        ("-----BEGIN CERTIFICATE-----\nMAA=\n", "unexpected text after"),
        ("junk" + pem_block(b"\x30\x00"), "unexpected text between PEM blocks"),
        (pem_block(b"\x30\x00") + "junk" + pem_block(b"\x30\x00"), "between PEM blocks"),
        (
            pem_block(b"\x30\x00") * (MAX_ISSUER_CHAIN_CERTIFICATES + 1),
            f"more than {MAX_ISSUER_CHAIN_CERTIFICATES}",
        ),
        ("%ZZ%", "unexpected text after"),
        ("é", "non-ASCII"),
    ],
)
def test_bad_issuer_chain_is_named(
    document: dict[str, Any], field: str, value: str, message: str
) -> None:
    refused(with_field(document, field, value), field, message)


def test_issuer_chain_with_surrounding_whitespace_and_nul_is_accepted(
    document: dict[str, Any],
) -> None:
    chain = "\n" + document["tcb_info_issuer_chain"] + "\0"
    collateral = Collateral.from_dcap_qvl_json(with_field(document, "tcb_info_issuer_chain", chain))
    assert collateral.tcb_info_issuer_chain == chain.encode()


@pytest.mark.parametrize("field", ["tcb_info", "qe_identity"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "invalid JSON"),
        ("{", "invalid JSON"),
        ("[]", "not a JSON object"),
        ('"text"', "not a JSON object"),
        ('{"id":"TDX","id":"SGX"}', "duplicate key 'id'"),
        ('{"version":NaN}', "NaN is not valid JSON"),
        ('{"version":Infinity}', "Infinity is not valid JSON"),
        ("\ud800", "not encodable as UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON"),
    ],
)
def test_bad_signed_json_is_named(
    document: dict[str, Any], field: str, value: str, message: str
) -> None:
    refused(with_field(document, field, value), field, message)


def test_oversized_signed_json_is_refused(document: dict[str, Any]) -> None:
    huge = '{"pad":"' + "x" * MAX_SIGNED_JSON_BYTES + '"}'
    refused(with_field(document, "tcb_info", huge), "tcb_info", "more than")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "invalid JSON"),
        (b"[]", "not a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"tcb_info": 1, "tcb_info": 2}', "duplicate key"),
        (b"{} {}", "invalid JSON"),
    ],
)
def test_bad_document_is_refused(data: bytes, message: str) -> None:
    for reader in (Collateral.from_dcap_qvl_json, Collateral.from_bundle_json, load_collateral):
        with pytest.raises(CollateralFormatError, match=f"^collateral: .*{message}"):
            reader(data)


def test_oversized_document_is_refused() -> None:
    with pytest.raises(CollateralFormatError, match="more than"):
        load_collateral(b" " * (MAX_COLLATERAL_BYTES + 1))


def test_unknown_document_shape_is_refused() -> None:
    with pytest.raises(CollateralFormatError, match="neither a veil bundle"):
        load_collateral(b'{"tcbInfo": {}}')


def test_readers_refuse_non_bytes_as_misuse() -> None:
    with pytest.raises(TypeError):
        load_collateral("{}")  # type: ignore[arg-type]


def test_unknown_dcap_qvl_members_are_ignored(document: dict[str, Any]) -> None:
    data = with_field(document, "pck_certificate_chain", "anything")
    assert Collateral.from_dcap_qvl_json(data).tcb_info == document["tcb_info"].encode()


def test_bom_is_refused(vectors_dir: Path) -> None:
    """No real collateral starts with a byte-order mark; one strict decoder refuses it."""
    raw = (vectors_dir / SOURCE).read_bytes()
    with pytest.raises(CollateralFormatError, match="invalid JSON"):
        Collateral.from_dcap_qvl_json(b"\xef\xbb\xbf" + raw)


# ----- veil bundle ---------------------------------------------------------------------------


def bundle_with(collateral: Collateral, name: str, value: Any) -> bytes:
    document = json.loads(collateral.to_bundle_json())
    if value is _DELETE:
        del document[name]
    else:
        document[name] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("format", "dcap-qvl", "expected 'veil-collateral'"),
        ("version", 2, "unsupported bundle version 2"),
        ("version", "1", "unsupported bundle version '1'"),
        ("version", True, "unsupported bundle version True"),
        ("version", 1.0, "unsupported bundle version 1.0"),
        ("version", _DELETE, "unsupported bundle version None"),
        ("extra", "x", "unknown member"),
        ("tcb_info", "e30", "not valid base64"),
        ("tcb_info", "e3 0=", "not valid base64"),
        ("tcb_info", "e30=\n", "not valid base64"),
        ("tcb_info", base64.b64encode(b"[]").decode(), "not a JSON object"),
        ("tcb_info_signature", base64.b64encode(bytes(63)).decode(), "must be 64 bytes"),
        ("pck_crl", base64.b64encode(b"\x02\x00").decode(), "DER SEQUENCE"),
        ("qe_identity_issuer_chain", base64.b64encode(b"junk").decode(), "after the last"),
        ("fetched_from", 7, "must be a string"),
        ("fetched_from", "x" * 3000, "at most 2048"),
        ("fetched_at", "yesterday", "not an RFC 3339"),
        ("fetched_at", "2025-06-20T08:30:00", "must carry a time zone"),
        ("fetched_at", 1750408200, "must be an RFC 3339 string"),
    ],
)
def test_bad_bundle_is_named(collateral: Collateral, name: str, value: Any, message: str) -> None:
    refused(bundle_with(collateral, name, value), name, message, reader=Collateral.from_bundle_json)


@pytest.mark.parametrize("name", ["tcb_info", "pck_crl", "qe_identity_signature"])
def test_bundle_missing_field_is_named(collateral: Collateral, name: str) -> None:
    refused(
        bundle_with(collateral, name, _DELETE), name, "missing", reader=Collateral.from_bundle_json
    )


def test_bundle_is_not_read_as_dcap_qvl(collateral: Collateral) -> None:
    # dcap-qvl CRLs are hex; a bundle's base64 is refused at the first field read.
    refused(collateral.to_bundle_json(), "pck_crl", "not valid hex")


# ----- constructor and PCS helper ------------------------------------------------------------


def test_constructor_checks_types(collateral: Collateral) -> None:
    fields = {name: getattr(collateral, name) for name in FIELDS}
    with pytest.raises(TypeError, match="tcb_info must be bytes"):
        Collateral(**{**fields, "tcb_info": "text"})
    assert Collateral(**{**fields, "tcb_info": bytearray(fields["tcb_info"])}) == collateral
    with pytest.raises(CollateralFormatError, match="fetched_at: must be a timezone-aware"):
        Collateral(**fields, fetched_at="2025-01-01")  # type: ignore[arg-type]


def pcs_arguments(collateral: Collateral) -> dict[str, Any]:
    return {
        "tcb_info_response": b'{"tcbInfo":'
        + collateral.tcb_info
        + b',"signature":"'
        + collateral.tcb_info_signature.hex().encode()
        + b'"}',
        "tcb_info_issuer_chain": collateral.tcb_info_issuer_chain,
        "qe_identity_response": b'{"enclaveIdentity":'
        + collateral.qe_identity
        + b',"signature":"'
        + collateral.qe_identity_signature.hex().encode()
        + b'"}',
        "qe_identity_issuer_chain": collateral.qe_identity_issuer_chain,
        "pck_crl": collateral.pck_crl,
        "pck_crl_issuer_chain": collateral.pck_crl_issuer_chain,
        "root_ca_crl": collateral.root_ca_crl,
    }


def test_pcs_arguments_rebuild_the_collateral(collateral: Collateral) -> None:
    assert Collateral.from_pcs_responses(**pcs_arguments(collateral)) == collateral


@pytest.mark.parametrize(
    ("argument", "body", "field", "message"),
    [
        ("tcb_info_response", b"[]", "tcb_info", "not a JSON object"),
        ("tcb_info_response", b"{}", "tcb_info", "no 'tcbInfo' member"),
        ("tcb_info_response", b'{"tcbInfo":{}}', "tcb_info_signature", "missing"),
        ("tcb_info_response", b'{"tcbInfo":{},"signature":7}', "tcb_info_signature", "missing"),
        ("tcb_info_response", b'{"tcbInfo":{},"signature":"xy"}', "tcb_info_signature", "hex"),
        ("tcb_info_response", b'{"tcbInfo":"{}","signature":""}', "tcb_info", "not a JSON object"),
        ("tcb_info_response", b'{"tcbInfo":{},"tcbInfo":{}}', "tcb_info", "duplicate key"),
        ("tcb_info_response", b'{"tcbInfo":{"a":1}', "tcb_info", "invalid JSON"),
        ("qe_identity_response", b'{"tcbInfo":{}}', "qe_identity", "no 'enclaveIdentity'"),
        ("pck_crl", b"-----BEGIN X509 CRL-----\nMAA=\n", "pck_crl", "malformed PEM CRL"),
        ("pck_crl", b"-----BEGIN X509 CRL-----\nAgEA\n-----END X509 CRL-----\n", "pck_crl", "DER"),
        ("root_ca_crl", b"", "root_ca_crl", "empty"),
        ("pck_crl_issuer_chain", b"%2D%2D", "pck_crl_issuer_chain", "after the last"),
    ],
)
def test_bad_pcs_response_is_named(
    collateral: Collateral, argument: str, body: bytes, field: str, message: str
) -> None:
    arguments = pcs_arguments(collateral)
    arguments[argument] = body
    with pytest.raises(CollateralFormatError, match=f"^{field}: .*{message}"):
        Collateral.from_pcs_responses(**arguments)


def test_pcs_response_of_the_wrong_kind_is_refused(collateral: Collateral) -> None:
    arguments = pcs_arguments(collateral)
    arguments["tcb_info_response"], arguments["qe_identity_response"] = (
        arguments["qe_identity_response"],
        arguments["tcb_info_response"],
    )
    with pytest.raises(CollateralFormatError, match=r"^tcb_info: .*no 'tcbInfo' member"):
        Collateral.from_pcs_responses(**arguments)


@pytest.mark.parametrize("value", [[], "text", 7, None])
def test_bundle_dict_must_be_an_object(value: Any) -> None:
    with pytest.raises(CollateralFormatError, match=r"^collateral: not a JSON object"):
        Collateral.from_bundle_dict(value)
