"""Every real collateral file reads in each format and keeps Intel's signed bytes exactly."""

from __future__ import annotations

import base64
import dataclasses
import json
import urllib.parse
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from veil.attestation._collateral_fields import read_crl
from veil.attestation.collateral import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    Collateral,
    _signed_member,
    load_collateral,
)

#: The dcap-qvl collateral files besides the assembled bundles, by the fixture of their folder:
#: the shipped vectors, and those only in the shared folder (not redistributed).
DCAP_QVL_COLLATERAL = {
    "vectors_dir": [
        "phala-dcap-qvl/sgx_quote_collateral.json",
        "phala-dcap-qvl/tdx_quote_collateral.json",
        "phala-dcap-qvl/tdx_quote_outdated_collateral.json",
        "phala-dcap-qvl/near-gas-test/quote_collateral.json",
        "phala-dcap-qvl/sdist-0.7.0/tdx_quote_td15ex_collateral.json",
        "cosmian-mse-home-cli/collateral_dcapqvl_format.json",
    ],
    "shared_vectors_dir": ["cosmian-enclave/collateral_dcapqvl_format.json"],
}
#: Assembled bundle folders in each (the shared folder has all of them).
ASSEMBLED_BUNDLES = {"vectors_dir": 13, "shared_vectors_dir": 17}
#: Signed pieces that the PCS-format files of each folder reproduce (test below).
PCS_CUTS = {"vectors_dir": 36, "shared_vectors_dir": 44}
SIGNED_FIELDS = [
    "pck_crl",
    "pck_crl_issuer_chain",
    "root_ca_crl",
    "tcb_info",
    "tcb_info_signature",
    "tcb_info_issuer_chain",
    "qe_identity",
    "qe_identity_signature",
    "qe_identity_issuer_chain",
]


@pytest.fixture(params=sorted(DCAP_QVL_COLLATERAL))
def folder(request: pytest.FixtureRequest) -> tuple[str, Path]:
    """Each folder of vectors, by the name of its fixture (the shared one may be skipped)."""
    name: str = request.param
    path: Path = request.getfixturevalue(name)
    return name, path


def all_dcap_qvl_files(folder: tuple[str, Path]) -> list[Path]:
    name, path = folder
    assembled = sorted((path / "_assembled").glob("*/collateral.json"))
    assert len(assembled) == ASSEMBLED_BUNDLES[name]
    return [path / relative for relative in DCAP_QVL_COLLATERAL[name]] + assembled


def expected_from_dcap_qvl(document: dict[str, Any]) -> dict[str, bytes]:
    """What each field must be, computed independently of the reader."""
    return {
        "pck_crl": bytes.fromhex(document["pck_crl"]),
        "root_ca_crl": bytes.fromhex(document["root_ca_crl"]),
        "tcb_info_signature": bytes.fromhex(document["tcb_info_signature"]),
        "qe_identity_signature": bytes.fromhex(document["qe_identity_signature"]),
        "tcb_info": document["tcb_info"].encode(),
        "qe_identity": document["qe_identity"].encode(),
        "pck_crl_issuer_chain": document["pck_crl_issuer_chain"].encode(),
        "tcb_info_issuer_chain": document["tcb_info_issuer_chain"].encode(),
        "qe_identity_issuer_chain": document["qe_identity_issuer_chain"].encode(),
    }


def test_every_dcap_qvl_collateral_reads_exactly(folder: tuple[str, Path]) -> None:
    for path in all_dcap_qvl_files(folder):
        raw = path.read_bytes()
        collateral = Collateral.from_dcap_qvl_json(raw)
        expected = expected_from_dcap_qvl(json.loads(raw))
        for name in SIGNED_FIELDS:
            assert getattr(collateral, name) == expected[name], (path, name)
        assert load_collateral(raw) == collateral


def test_every_collateral_round_trips_through_the_bundle(folder: tuple[str, Path]) -> None:
    for path in all_dcap_qvl_files(folder):
        collateral = Collateral.from_dcap_qvl_json(path.read_bytes())
        bundle = collateral.to_bundle_json()
        again = Collateral.from_bundle_json(bundle)
        for name in SIGNED_FIELDS:
            assert getattr(again, name) == getattr(collateral, name), (path, name)
        assert again == collateral
        assert again.digest() == collateral.digest()
        assert again.to_bundle_json() == bundle
        assert load_collateral(bundle) == collateral
        # And back to dcap-qvl's format, field for field.
        assert Collateral.from_dcap_qvl_json(collateral.to_dcap_qvl_json()) == collateral


def test_bundle_layout(vectors_dir: Path) -> None:
    collateral = Collateral.from_dcap_qvl_json(
        (vectors_dir / "phala-dcap-qvl/sgx_quote_collateral.json").read_bytes()
    )
    bundle = collateral.to_bundle_json()
    assert bundle.endswith(b"}\n")
    document = json.loads(bundle)
    assert document["format"] == BUNDLE_FORMAT == "veil-collateral"
    assert document["version"] == BUNDLE_VERSION == 1
    assert set(document) == {"format", "version", *SIGNED_FIELDS}
    assert list(document) == sorted(document)
    assert base64.b64decode(document["tcb_info"]) == collateral.tcb_info
    assert base64.b64decode(document["tcb_info_signature"]).hex() == (
        collateral.tcb_info_signature.hex()
    )


def test_provenance_round_trips_and_stays_out_of_the_digest(vectors_dir: Path) -> None:
    plain = Collateral.from_dcap_qvl_json(
        (vectors_dir / "phala-dcap-qvl/tdx_quote_collateral.json").read_bytes()
    )
    fetched_at = datetime(2025, 6, 20, 8, 30, tzinfo=UTC)
    stamped = dataclasses.replace(
        plain,
        fetched_from="https://api.trustedservices.intel.com/tdx/certification/v4",
        fetched_at=fetched_at,
    )
    bundle = stamped.to_bundle_json()
    document = json.loads(bundle)
    assert document["fetched_at"] == "2025-06-20T08:30:00Z"
    again = Collateral.from_bundle_json(bundle)
    assert again.fetched_from == stamped.fetched_from
    assert again.fetched_at == fetched_at
    assert again.digest() == plain.digest()
    # A non-UTC instant is written in UTC and reads back equal.
    shifted = dataclasses.replace(
        plain, fetched_at=fetched_at.astimezone(timezone(timedelta(hours=2)))
    )
    assert json.loads(shifted.to_bundle_json())["fetched_at"] == "2025-06-20T08:30:00Z"


def test_digest_changes_with_any_signed_byte(vectors_dir: Path) -> None:
    collateral = Collateral.from_dcap_qvl_json(
        (vectors_dir / "phala-dcap-qvl/sgx_quote_collateral.json").read_bytes()
    )
    flipped = bytearray(collateral.tcb_info_signature)
    flipped[0] ^= 1
    changed = dataclasses.replace(collateral, tcb_info_signature=bytes(flipped))
    assert changed.digest() != collateral.digest()
    # Moving a byte from one field into the next keeps the concatenation but not the digest
    # (each field is length-prefixed): the chain's final newline becomes JSON whitespace.
    assert collateral.tcb_info_issuer_chain.endswith(b"\n")
    moved = dataclasses.replace(
        collateral,
        tcb_info_issuer_chain=collateral.tcb_info_issuer_chain[:-1],
        qe_identity=b"\n" + collateral.qe_identity,
    )
    assert moved.digest() != collateral.digest()
    assert len(collateral.digest()) == 32
    assert "digest=" in repr(collateral)
    assert "BEGIN CERTIFICATE" not in repr(collateral)


def test_semantically_equal_json_is_kept_byte_for_byte(vectors_dir: Path) -> None:
    """N12: a space after "isvprodid": breaks Intel's signature; veil must carry it as is."""
    document = json.loads((vectors_dir / "phala-dcap-qvl/sgx_quote_collateral.json").read_bytes())
    assert '"isvprodid":' in document["qe_identity"]
    document["qe_identity"] = document["qe_identity"].replace('"isvprodid":', '"isvprodid": ', 1)
    original = Collateral.from_dcap_qvl_json(
        (vectors_dir / "phala-dcap-qvl/sgx_quote_collateral.json").read_bytes()
    )
    tampered = Collateral.from_dcap_qvl_json(json.dumps(document).encode())
    assert tampered.qe_identity == document["qe_identity"].encode()
    assert json.loads(tampered.qe_identity) == json.loads(original.qe_identity)
    assert tampered.digest() != original.digest()
    assert (
        Collateral.from_bundle_json(tampered.to_bundle_json()).qe_identity == tampered.qe_identity
    )


# ----- Intel PCS responses -------------------------------------------------------------------


def go_tdx_guest_collateral(vectors_dir: Path, **overrides: Any) -> Collateral:
    folder = vectors_dir / "google-go-tdx-guest"
    arguments: dict[str, Any] = {
        "tcb_info_response": (folder / "sample_tcbInfo_response").read_bytes(),
        "tcb_info_issuer_chain": (folder / "tcbinfo_issuer_chain.pem").read_bytes(),
        "qe_identity_response": (folder / "sample_qeIdentity_response").read_bytes(),
        "qe_identity_issuer_chain": (folder / "qeidentity_issuer_chain.pem").read_bytes(),
        "pck_crl": (folder / "pckcrl").read_bytes(),
        "pck_crl_issuer_chain": (folder / "pckcrl_issuer_chain.pem").read_bytes(),
        "root_ca_crl": (folder / "rootcrl.der").read_bytes(),
    }
    arguments.update(overrides)
    return Collateral.from_pcs_responses(**arguments)


def test_pcs_responses_cut_the_exact_signed_objects(vectors_dir: Path) -> None:
    folder = vectors_dir / "google-go-tdx-guest"
    collateral = go_tdx_guest_collateral(vectors_dir)
    for name, file, key in [
        ("tcb_info", "sample_tcbInfo_response", "tcbInfo"),
        ("qe_identity", "sample_qeIdentity_response", "enclaveIdentity"),
    ]:
        body = (folder / file).read_bytes()
        signed = getattr(collateral, name)
        # The cut is a verbatim substring that starts right after `{"key":`.
        assert body.startswith(b'{"' + key.encode() + b'":' + signed + b',"signature":"')
        assert getattr(collateral, f"{name}_signature").hex() == json.loads(body)["signature"]
    assert collateral.pck_crl == (folder / "pckcrl").read_bytes()
    assert collateral.root_ca_crl == (folder / "rootcrl.der").read_bytes()


def test_pcs_issuer_chains_may_be_url_encoded(vectors_dir: Path) -> None:
    folder = vectors_dir / "google-go-tdx-guest"
    plain = go_tdx_guest_collateral(vectors_dir)
    encoded = go_tdx_guest_collateral(
        vectors_dir,
        tcb_info_issuer_chain=urllib.parse.quote((folder / "tcbinfo_issuer_chain.pem").read_text()),
        qe_identity_issuer_chain=urllib.parse.quote_from_bytes(
            (folder / "qeidentity_issuer_chain.pem").read_bytes()
        ).encode(),
        pck_crl_issuer_chain=urllib.parse.quote((folder / "pckcrl_issuer_chain.pem").read_text()),
    )
    assert encoded == plain


def test_pcs_crls_may_be_hex_or_pem(vectors_dir: Path) -> None:
    folder = vectors_dir / "google-go-tdx-guest"
    der = (folder / "pckcrl").read_bytes()
    pem = (
        b"-----BEGIN X509 CRL-----\n"
        + b"\n".join(base64.encodebytes(der).split(b"\n"))
        + b"-----END X509 CRL-----\n"
    )
    plain = go_tdx_guest_collateral(vectors_dir)
    assert go_tdx_guest_collateral(vectors_dir, pck_crl=der.hex()) == plain
    assert go_tdx_guest_collateral(vectors_dir, pck_crl=der.hex().upper().encode()) == plain
    assert go_tdx_guest_collateral(vectors_dir, pck_crl=pem) == plain


def test_pcs_response_with_whitespace_and_reordered_members(vectors_dir: Path) -> None:
    """The cutter respects the document's own spacing and member order."""
    body = (vectors_dir / "google-go-tdx-guest/sample_tcbInfo_response").read_bytes()
    document = json.loads(body)
    inner = go_tdx_guest_collateral(vectors_dir).tcb_info
    reordered = (
        b'\n{ "signature" : "'
        + document["signature"].encode()
        + b'" ,\n  "tcbInfo" :\t'
        + inner
        + b" }\n"
    )
    collateral = go_tdx_guest_collateral(vectors_dir, tcb_info_response=reordered)
    assert collateral.tcb_info == inner


def resolve(vectors_dir: Path, source: str) -> bytes | None:
    """The raw bytes of a manifest source when it is a file of its own (not `file#field`)."""
    if "#" in source:
        return None
    path = vectors_dir / source
    return path.read_bytes() if path.is_file() else None


def test_pcs_cut_matches_the_dcap_qvl_verified_bundles(folder: tuple[str, Path]) -> None:
    """Each assembled bundle was verified by dcap-qvl; its signed pieces came from PCS-format
    files. Cutting those files must give the very same bytes."""
    which, vectors_dir = folder
    manifest = json.loads((vectors_dir / "_assembled/manifest.json").read_bytes())
    compared = 0
    for entry in manifest:
        sources = entry["collateral_sources"]
        if not isinstance(sources, dict):  # shipped whole by its source, nothing assembled
            continue
        bundle = Collateral.from_dcap_qvl_json(
            (vectors_dir / entry["collateral_file"]).read_bytes()
        )
        for name, key in [("tcb_info", "tcbInfo"), ("qe_identity", "enclaveIdentity")]:
            raw = resolve(vectors_dir, sources[name])
            if raw is None:
                continue
            signed, signature = _signed_member(raw, key, name)
            assert signed == getattr(bundle, name), (entry["id"], name)
            assert signature == getattr(bundle, f"{name}_signature"), (entry["id"], name)
            compared += 1
        for name in ("pck_crl", "root_ca_crl"):
            raw = resolve(vectors_dir, sources[name])
            if raw is not None:
                assert read_crl(raw, name) == getattr(bundle, name), (entry["id"], name)
                compared += 1
    assert compared >= PCS_CUTS[which]


@pytest.mark.parametrize(
    "relative",
    [
        "automata-dcap-attestation/evm-forge-test-assets/0625/tcbinfo.json",
        "automata-dcap-attestation/evm-forge-test-assets/0825/sgx_tcbinfov3_00606a000000.json",
        "automata-dcap-attestation/evm-forge-test-assets/1025/tcb_info.json",
        "automata-dcap-attestation/solana-tests-data/tcb_info_v3_with_tdx_module.json",
        "coco-trustee/tcbInfo.json",
        "google-go-tdx-guest/sample_tcbinfo_response_v5",
    ],
)
def test_every_pcs_tcb_info_file_cuts(vectors_dir: Path, relative: str) -> None:
    body = (vectors_dir / relative).read_bytes()
    signed, signature = _signed_member(body, "tcbInfo", "tcb_info")
    assert signed in body
    assert json.loads(signed) == json.loads(body)["tcbInfo"]
    assert len(signature) == 64


def test_bundle_dict_embeds_in_another_document(vectors_dir: Path) -> None:
    """evidence.json embeds the bundle as an object; re-serialising it keeps every byte."""
    collateral = Collateral.from_dcap_qvl_json(
        (vectors_dir / "phala-dcap-qvl/sdist-0.7.0/tdx_quote_td15ex_collateral.json").read_bytes()
    )
    outer = json.dumps({"quote": "…", "collateral": collateral.to_bundle_dict()}, indent=4)
    embedded = json.loads(outer)["collateral"]
    assert Collateral.from_bundle_dict(embedded) == collateral
    assert json.loads(collateral.to_bundle_json()) == collateral.to_bundle_dict()
