from __future__ import annotations

import contextlib
import hashlib
import struct

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.attestation.result import Tee
from veil.ratls.errors import RatlsFormatError
from veil.ratls.extension import (
    MAX_EXTENSION_BYTES,
    RatlsClaims,
    VeilEvidence,
)
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
    claims=RatlsClaims(
        app_fingerprint="sha256:" + "ab" * 32,
        runtime_version="0.1.0",
        runtime_digest="sha256:" + "cd" * 32,
        instance_id="00" * 16,
    ),
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


def test_minimal_evidence_omits_optional_keys() -> None:
    minimal = VeilEvidence(
        tee=Tee.SIMULATED, quote=b"q", sealing_public_key=b"k", sealing_suite="x25519"
    )
    assert set(cbor2.loads(minimal.to_cbor())) == {
        "version",
        "tee",
        "quote",
        "sealing_public_key",
        "sealing_suite",
    }
    assert VeilEvidence.from_cbor(minimal.to_cbor()) == minimal


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
        ({"claims": {}}, "claims, when present"),
        ({"claims": {"app_fingerprint": "a b"}}, "printable"),
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
