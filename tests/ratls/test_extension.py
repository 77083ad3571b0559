from __future__ import annotations

import contextlib
import hashlib
import struct
from datetime import datetime, timedelta, timezone

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ratls._certs import CLAIMS, NOW, claims
from veil.attestation.result import Tee
from veil.ratls.claims import CLAIM_KEYS, RatlsClaims, format_claim_time
from veil.ratls.errors import RatlsFormatError
from veil.ratls.extension import MAX_EXTENSION_BYTES, VeilEvidence
from veil.ratls.oids import (
    GRAMINE_LEGACY_QUOTE_OID,
    VEIL_ARC,
    VEIL_EVIDENCE_OID,
)
from veil.ratls.report_data import RATLS_REPORT_DATA_LABEL, ratls_report_data

EVIDENCE = VeilEvidence(
    tee=Tee.SGX,
    quote=b"\x03\x00" + b"q" * 100,
    sealing_public_key=b"k" * 32,
    sealing_suite="x25519",
    nonce=b"n" * 16,
    claims=CLAIMS,
)


def test_report_data_is_sha512_of_label_and_length_prefixed_fields() -> None:
    expected = hashlib.sha512(
        RATLS_REPORT_DATA_LABEL
        + struct.pack("<I", 3)
        + b"tls"
        + struct.pack("<I", 4)
        + b"seal"
        + struct.pack("<I", 0)
    ).digest()
    assert ratls_report_data(b"tls", b"seal") == expected
    assert len(expected) == 64


def test_report_data_is_injective_across_field_boundaries() -> None:
    assert ratls_report_data(b"ab", b"c") != ratls_report_data(b"a", b"bc")
    assert ratls_report_data(b"a", b"b", nonce=b"") != ratls_report_data(b"a", b"b", nonce=b"\0")
    with pytest.raises(ValueError, match="empty"):
        ratls_report_data(b"", b"x")


def test_oids_are_the_documented_ones() -> None:
    assert VEIL_ARC.startswith("2.25.")
    assert int(VEIL_ARC.removeprefix("2.25.")) == 0xC3680C9F296F46EB95EB6ADF600A6803
    assert VEIL_EVIDENCE_OID.dotted_string == VEIL_ARC + ".1"
    # Gramine's legacy OID: the DER bytes 06 09 2A 86 48 86 F8 4D 8A 39 06 read as an OID body.
    assert GRAMINE_LEGACY_QUOTE_OID.dotted_string == "0.6.9.42.840.113741.1337.6"


def test_roundtrip_is_canonical() -> None:
    data = EVIDENCE.to_cbor()
    assert VeilEvidence.from_cbor(data) == EVIDENCE
    assert data == cbor2.dumps(cbor2.loads(data), canonical=True)
    assert cbor2.loads(data)["version"] == 1


def test_minimal_evidence_omits_only_the_nonce() -> None:
    minimal = VeilEvidence(
        tee=Tee.SIMULATED,
        quote=b"q",
        sealing_public_key=b"k",
        sealing_suite="x25519",
        claims=CLAIMS,
    )
    item = cbor2.loads(minimal.to_cbor())
    assert set(item) == {"version", "tee", "quote", "sealing_public_key", "sealing_suite", "claims"}
    assert VeilEvidence.from_cbor(minimal.to_cbor()) == minimal


def test_claims_are_all_present_and_typed() -> None:
    item = cbor2.loads(EVIDENCE.to_cbor())["claims"]
    assert item == {
        "app_name": "hello",
        "app_fingerprint": CLAIMS.app_fingerprint,
        "security_config_digest": CLAIMS.security_config_digest,
        "runtime_version": "0.1.0",
        "runtime_digest": CLAIMS.runtime_digest,
        "instance_id": CLAIMS.instance_id,
        "port": 8443,
        "created_at": "2026-03-01T12:00:00Z",
        "tls_scenario": "zero-trust",
        "tls_pin": CLAIMS.tls_pin,
    }
    assert list(item) == sorted(item, key=lambda k: (len(k.encode()), k.encode()))


def test_claim_times_are_normalised_to_utc() -> None:
    east = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert claims(created_at=east) == CLAIMS
    assert format_claim_time(east) == "2026-03-01T12:00:00Z"
    precise = claims(created_at=NOW.replace(microsecond=5))
    assert precise.to_map()["created_at"] == "2026-03-01T12:00:00.000005Z"


def _claims_with(**changes: object) -> dict[str, object]:
    item: dict[str, object] = dict(CLAIMS.to_map())
    item.update(changes)
    return item


def _claims_without(key: str) -> dict[str, object]:
    item: dict[str, object] = dict(CLAIMS.to_map())
    del item[key]
    return item


def _mutated(**changes: object) -> bytes:
    item = cbor2.loads(EVIDENCE.to_cbor())
    for key, value in changes.items():
        if value is None:
            del item[key]
        else:
            item[key] = value
    return bytes(cbor2.dumps(item, canonical=True))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": 2}, "unsupported veil evidence version 2"),
        ({"version": "1"}, "no integer version"),
        ({"extra": 1}, "unknown keys extra"),
        ({"quote": None}, "lacks quote"),
        ({"tee": "sev"}, "unknown TEE"),
        ({"quote": "text"}, "quote is not a byte string"),
        ({"nonce": b""}, "nonce, when present"),
        ({"nonce": b"x" * 65}, "nonce exceeds"),
        ({"claims": {"app_fingerprint": "x", "evil": "y"}}, "unknown claims: evil"),
        ({"claims": None}, "lacks claims"),
        ({"claims": {}}, "missing claims: app_name"),
        ({"claims": [1]}, "claims must be a map"),
        ({"claims": _claims_without("port")}, "missing claims: port"),
        ({"claims": _claims_without("created_at")}, "missing claims: created_at"),
        ({"claims": _claims_without("security_config_digest")}, "security_config_digest"),
        ({"claims": _claims_with(app_name="a b")}, "printable"),
        ({"claims": _claims_with(app_fingerprint="sha256:AB")}, "claim app_fingerprint"),
        ({"claims": _claims_with(security_config_digest="md5:0")}, "security_config_digest"),
        ({"claims": _claims_with(instance_id="AB" * 16)}, "instance_id"),
        ({"claims": _claims_with(port=0)}, "claim port"),
        ({"claims": _claims_with(port=65536)}, "claim port"),
        ({"claims": _claims_with(port="8443")}, "claim port"),
        ({"claims": _claims_with(port=True)}, "claim port"),
        ({"claims": _claims_with(created_at="2026-03-01T12:00:00+00:00")}, "created_at"),
        ({"claims": _claims_with(created_at="2026-03-01T12:00:00.000000Z")}, "canonical"),
        ({"claims": _claims_with(created_at="2026-02-30T12:00:00Z")}, "not a valid time"),
        ({"claims": _claims_with(created_at=1)}, "created_at"),
        ({"claims": _claims_without("tls_scenario")}, "missing claims: tls_scenario"),
        ({"claims": _claims_without("tls_pin")}, "missing claims: tls_pin"),
        ({"claims": _claims_with(tls_scenario="none")}, "claim tls_scenario must be one of"),
        ({"claims": _claims_with(tls_pin="sha256:" + "7" * 63)}, "claim tls_pin"),
        ({"sealing_suite": ""}, "sealing suite"),
    ],
)
def test_malformed_extension_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(RatlsFormatError, match=message):
        VeilEvidence.from_cbor(_mutated(**changes))


def test_trailing_bytes_and_non_canonical_are_refused() -> None:
    data = EVIDENCE.to_cbor()
    with pytest.raises(RatlsFormatError, match="trailing"):
        VeilEvidence.from_cbor(data + b"\x00")
    non_canonical = cbor2.dumps(dict(reversed(list(cbor2.loads(data).items()))))
    with pytest.raises(RatlsFormatError, match="canonical"):
        VeilEvidence.from_cbor(non_canonical)


def test_duplicate_keys_and_non_map_are_refused() -> None:
    duplicate = b"\xa2\x67version\x01\x67version\x01"
    with pytest.raises(RatlsFormatError, match="CBOR"):
        VeilEvidence.from_cbor(duplicate)
    with pytest.raises(RatlsFormatError, match="not a CBOR map"):
        VeilEvidence.from_cbor(cbor2.dumps([1, 2]))


def test_oversized_extension_is_refused() -> None:
    with pytest.raises(RatlsFormatError, match="exceeds"):
        VeilEvidence.from_cbor(b"\x00" * (MAX_EXTENSION_BYTES + 1))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_decoder_raises_only_format_error(data: bytes) -> None:
    with contextlib.suppress(RatlsFormatError):
        VeilEvidence.from_cbor(data)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["version", "tee", "quote", "sealing_public_key", "sealing_suite", "nonce", "claims"]
        ),
        st.one_of(st.integers(), st.binary(max_size=8), st.text(max_size=8), st.none()),
    )
)
def test_decoder_on_structured_noise(item: dict[str, object]) -> None:
    with contextlib.suppress(RatlsFormatError):
        VeilEvidence.from_cbor(cbor2.dumps(item, canonical=True))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*CLAIM_KEYS, "other"]),
        st.one_of(
            st.integers(), st.text(max_size=80), st.binary(max_size=8), st.none(), st.booleans()
        ),
    )
)
def test_claims_decoder_on_structured_noise(item: dict[str, object]) -> None:
    with contextlib.suppress(RatlsFormatError):
        RatlsClaims.from_map(item)
