"""Property tests: collateral readers raise only CollateralFormatError; the cutter is exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.attestation._signed_json import SignedJsonError, extract_member_bytes
from veil.attestation.collateral import Collateral, load_collateral
from veil.attestation.errors import CollateralFormatError

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SOURCE = "phala-dcap-qvl/sgx_quote_collateral.json"
PCS_TCB_INFO = "google-go-tdx-guest/sample_tcbInfo_response"

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=20,
)


def read_or_format_error(data: bytes) -> None:
    for reader in (load_collateral, Collateral.from_dcap_qvl_json, Collateral.from_bundle_json):
        try:
            collateral = reader(data)
        except CollateralFormatError:
            continue
        assert Collateral.from_bundle_json(collateral.to_bundle_json()) == collateral


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    read_or_format_error(data)


@PROPERTY_SETTINGS
@given(value=json_values)
def test_arbitrary_json(value: Any) -> None:
    read_or_format_error(json.dumps(value).encode())


@PROPERTY_SETTINGS
@given(
    field=st.sampled_from(
        [
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
    ),
    value=st.one_of(json_values, st.text(alphabet="0123456789abcdef", max_size=140)),
    as_bundle=st.booleans(),
)
def test_real_collateral_with_one_field_replaced(
    vectors_dir: Path, field: str, value: Any, as_bundle: bool
) -> None:
    real = Collateral.from_dcap_qvl_json((vectors_dir / SOURCE).read_bytes())
    text = real.to_bundle_json() if as_bundle else (vectors_dir / SOURCE).read_bytes()
    document = json.loads(text)
    document[field] = value
    read_or_format_error(json.dumps(document).encode())


@PROPERTY_SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
        min_size=1,
        max_size=3,
    ),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_mutated_real_collateral_bytes(
    vectors_dir: Path, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray((vectors_dir / SOURCE).read_bytes())
    for index, value in edits:
        data[index % len(data)] = value
    if cut is not None:
        del data[cut % len(data) :]
    read_or_format_error(bytes(data))


@PROPERTY_SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0), st.sampled_from(list(b'{}[]",:\\ 0a'))),
        min_size=1,
        max_size=3,
    )
)
def test_mutated_pcs_response(vectors_dir: Path, edits: list[tuple[int, int]]) -> None:
    """Structural bytes dropped into a real PCS body: cut exactly or refuse, nothing else."""
    real = Collateral.from_dcap_qvl_json((vectors_dir / SOURCE).read_bytes())
    body = bytearray((vectors_dir / PCS_TCB_INFO).read_bytes())
    for index, value in edits:
        body[index % len(body)] = value
    try:
        built = Collateral.from_pcs_responses(
            tcb_info_response=bytes(body),
            tcb_info_issuer_chain=real.tcb_info_issuer_chain,
            qe_identity_response=b'{"enclaveIdentity":'
            + real.qe_identity
            + b',"signature":"'
            + real.qe_identity_signature.hex().encode()
            + b'"}',
            qe_identity_issuer_chain=real.qe_identity_issuer_chain,
            pck_crl=real.pck_crl,
            pck_crl_issuer_chain=real.pck_crl_issuer_chain,
            root_ca_crl=real.root_ca_crl,
        )
    except CollateralFormatError:
        return
    assert built.tcb_info in body
    assert json.loads(built.tcb_info) == json.loads(bytes(body))["tcbInfo"]


@PROPERTY_SETTINGS
@given(
    document=st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5),
    indent=st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    separators=st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]),
    ensure_ascii=st.booleans(),
)
def test_cutter_returns_each_member_verbatim(
    document: dict[str, Any],
    indent: int | None,
    separators: tuple[str, str],
    ensure_ascii: bool,
) -> None:
    text = json.dumps(
        document, indent=indent, separators=separators, ensure_ascii=ensure_ascii
    ).encode()
    for key, value in document.items():
        cut, parsed = extract_member_bytes(text, key)
        assert cut in text
        assert json.loads(cut) == value
        assert parsed == document
        # The cut is the member's own serialisation, exactly.
        alone = json.dumps(
            {key: value}, indent=indent, separators=separators, ensure_ascii=ensure_ascii
        )
        assert json.loads(alone)[key] == json.loads(cut)


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=512), key=st.text(max_size=8))
def test_cutter_on_arbitrary_bytes(data: bytes, key: str) -> None:
    try:
        cut, document = extract_member_bytes(data, key)
    except SignedJsonError:
        return
    assert json.loads(cut) == document[key]
