"""Every real hardware quote in the shared vectors parses into the expected model."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from veil.attestation.errors import QuoteFormatError
from veil.attestation.quote import (
    BODY_TYPE_SGX,
    BODY_TYPE_TD_REPORT_10,
    BODY_TYPE_TD_REPORT_15,
    BODY_TYPE_TD_REPORT_15_EX,
    EnclaveReport,
    Quote,
    TdReport,
    measurements_of,
    parse_quote,
    parse_quote_text,
)
from veil.attestation.result import Tee

INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")


@dataclass(frozen=True)
class QuoteVector:
    path: str
    version: int
    tee: Tee
    body_type: int
    #: Bytes of zero padding after the signature data.
    padding: int
    debug: bool
    #: Only in the shared vectors (a licence veil does not redistribute, tests/vectors/README.md).
    shared: bool = False

    @property
    def is_text(self) -> bool:
        return self.path.endswith((".hex", ".txt"))


SGX, TDX = Tee.SGX, Tee.TDX
SGX_BODY, TD10, TD15, TD15EX = (
    BODY_TYPE_SGX,
    BODY_TYPE_TD_REPORT_10,
    BODY_TYPE_TD_REPORT_15,
    BODY_TYPE_TD_REPORT_15_EX,
)

# From the inventory in the vectors README (section F) and its verdict tables.
QUOTE_VECTORS = [
    QuoteVector("phala-dcap-qvl/sgx_quote", 3, SGX, SGX_BODY, 0, False),
    QuoteVector("phala-dcap-qvl/tdx_quote", 4, TDX, TD10, 70, False),
    QuoteVector("phala-dcap-qvl/tdx_quote_outdated", 5, TDX, TD15, 0, False),
    QuoteVector("phala-dcap-qvl/tdx-quote.hex", 4, TDX, TD10, 70, False),
    QuoteVector("phala-dcap-qvl/quote-from-tappd.hex", 4, TDX, TD10, 70, False),
    QuoteVector("phala-dcap-qvl/near-gas-test/quote_hex.txt", 4, TDX, TD10, 70, False),
    QuoteVector("phala-dcap-qvl/sdist-0.7.0/tdx_quote_td15ex", 5, TDX, TD15EX, 0, False),
    QuoteVector(
        "automata-dcap-attestation/evm-forge-test-assets/quotes/alibaba_quote_5.dat",
        5,
        TDX,
        TD15,
        0,
        False,
    ),
    QuoteVector(
        "automata-dcap-attestation/evm-forge-test-assets/quotes/alibaba_quote_5.hex",
        5,
        TDX,
        TD15,
        0,
        False,
    ),
    QuoteVector(
        "automata-dcap-attestation/evm-forge-test-assets/quotes/tdx_quote_5.dat",
        5,
        TDX,
        TD15,
        0,
        False,
    ),
    QuoteVector("automata-dcap-attestation/rust-crates-samples/quotev3.hex", 3, SGX, 1, 0, False),
    QuoteVector(
        "automata-dcap-attestation/rust-crates-samples/quotev4.hex", 4, TDX, 2, 3065, False
    ),
    QuoteVector("automata-dcap-attestation/rust-crates-samples/quotev5.dat", 5, TDX, 3, 0, False),
    QuoteVector("automata-dcap-attestation/solana-tests-data/quote_sgx.bin", 3, SGX, 1, 0, True),
    QuoteVector(
        "automata-dcap-attestation/solana-tests-data/quote_tdx.bin", 4, TDX, 2, 3065, False
    ),
    QuoteVector("bytedance-fedlearner/graphene_ratls_quote_extracted.bin", 3, SGX, 1, 0, True),
    QuoteVector("coco-trustee/az-tdx-vtpm/td-quote.bin", 4, TDX, TD10, 70, False),
    QuoteVector("coco-trustee/occlum_quote.dat", 3, SGX, SGX_BODY, 0, True),
    QuoteVector("coco-trustee/tdx_quote_4.dat", 4, TDX, TD10, 0, True),
    QuoteVector("coco-trustee/tdx_quote_5.dat", 5, TDX, TD15, 0, False),
    QuoteVector("coco-trustee/tdx_quote_6.dat", 4, TDX, TD10, 70, False),
    QuoteVector(
        "cosmian-enclave/ratls_quote_extracted.bin", 3, SGX, SGX_BODY, 0, False, shared=True
    ),
    QuoteVector("cosmian-intel-sgx-ra/quote.dat", 3, SGX, SGX_BODY, 0, False),
    QuoteVector("cosmian-mse-home-cli/ratls_quote_extracted.bin", 3, SGX, SGX_BODY, 0, False),
    QuoteVector("google-go-tdx-guest/ccel/cos-113-tdx-quote.dat", 4, TDX, TD10, 3065, False),
    QuoteVector("google-go-tdx-guest/quote_v5_sample.dat", 5, TDX, TD15, 0, False),
    QuoteVector(
        "gramine-ratls-mccoysc/gramine_ratls_quote.bin", 3, SGX, SGX_BODY, 0, True, shared=True
    ),
]


def read_quote_bytes(vectors_dir: Path, relative: str) -> bytes:
    data = (vectors_dir / relative).read_bytes()
    return parse_quote_text(data) if relative.endswith((".hex", ".txt")) else data


def load(vectors_dir: Path, relative: str) -> Quote:
    return parse_quote(read_quote_bytes(vectors_dir, relative))


@pytest.mark.parametrize("vector", QUOTE_VECTORS, ids=lambda vector: vector.path)
def test_real_quote_parses(request: pytest.FixtureRequest, vector: QuoteVector) -> None:
    folder: Path = request.getfixturevalue("shared_vectors_dir" if vector.shared else "vectors_dir")
    data = read_quote_bytes(folder, vector.path)
    quote = parse_quote(data)

    assert quote.version == quote.header.version == vector.version
    assert quote.tee is vector.tee
    assert quote.body_type == vector.body_type
    assert quote.is_debug is vector.debug
    assert quote.header.attestation_key_type == 2
    assert quote.header.qe_vendor_id == INTEL_QE_VENDOR_ID
    # Trailing padding is zero and dropped from `raw`.
    assert len(data) - len(quote.raw) == vector.padding
    assert quote.raw == data[: len(quote.raw)]
    assert not any(data[len(quote.raw) :])
    # What the attestation key signed: header ‖ (v5 type+size ‖) body.
    v5_framing = 6 if vector.version == 5 else 0
    assert quote.signed_data == data[: 48 + v5_framing + len(quote.body.raw)]
    assert quote.header.raw == data[:48]
    assert quote.body.raw == data[48 + v5_framing : len(quote.signed_data)]
    assert len(quote.signature) == 64
    assert len(quote.attestation_key) == 64
    certification = quote.certification
    assert len(certification.qe_report.raw) == 384
    assert len(certification.qe_report_signature) == 64
    assert certification.pck_cert_chain_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert certification.pck_cert_chain_pem.count(b"-----BEGIN CERTIFICATE-----") == 3
    # The QE report binds the attestation key: SHA-256(key ‖ auth data) ‖ 0³² (parsed, not
    # verified here; the check itself belongs to the verifier).
    bound = hashlib.sha256(quote.attestation_key + certification.qe_auth_data).digest()
    assert certification.qe_report.report_data == bound + bytes(32)
    if vector.tee is Tee.SGX:
        assert isinstance(quote.body, EnclaveReport)
    else:
        assert isinstance(quote.body, TdReport)
        assert (quote.body.tee_tcb_svn2 is None) is (vector.body_type == TD10)
        assert (quote.body.extension is None) is (vector.body_type != TD15EX)


def test_phala_sgx_quote_fields(vectors_dir: Path) -> None:
    quote = load(vectors_dir, "phala-dcap-qvl/sgx_quote")
    body = quote.body
    assert isinstance(body, EnclaveReport)
    assert body.mr_enclave.hex().startswith("33d8736d")
    assert body.mr_signer.hex().startswith("815f42f1")
    assert quote.report_data == b"Hello, world!".ljust(64, b"\0")
    assert (quote.header.qe_svn, quote.header.pce_svn) == (10, 15)
    assert (body.isv_prod_id, body.isv_svn) == (0, 0)
    assert body.attributes.hex() == "0500000000000000e700000000000000"
    assert not body.is_debug


def test_measurements_of_sgx_quote(vectors_dir: Path) -> None:
    quote = load(vectors_dir, "phala-dcap-qvl/sgx_quote")
    measurements = measurements_of(quote)
    assert set(measurements) == {
        "mr_enclave",
        "mr_signer",
        "isv_prod_id",
        "isv_svn",
        "report_data",
        "attributes",
        "misc_select",
        "config_id",
        "config_svn",
        "cpu_svn",
    }
    assert measurements["mr_enclave"].startswith("33d8736db756ed49")
    assert measurements["report_data"] == (b"Hello, world!".ljust(64, b"\0")).hex()
    assert measurements["isv_prod_id"] == "0"
    assert measurements["misc_select"] == "00000000"
    assert all(value == value.lower() for value in measurements.values())


def test_measurements_of_td_quotes(vectors_dir: Path) -> None:
    td10 = measurements_of(load(vectors_dir, "phala-dcap-qvl/tdx_quote"))
    assert set(td10) == {
        "mr_td",
        "rtmr0",
        "rtmr1",
        "rtmr2",
        "rtmr3",
        "mr_config_id",
        "mr_owner",
        "mr_owner_config",
        "td_attributes",
        "xfam",
        "mr_seam",
        "mr_signer_seam",
        "tee_tcb_svn",
        "report_data",
    }
    assert td10["mr_td"].startswith("91eb2b44d141d4ec")
    assert td10["td_attributes"] == "0000001000000000"
    td15 = measurements_of(
        load(
            vectors_dir,
            "automata-dcap-attestation/evm-forge-test-assets/quotes/alibaba_quote_5.dat",
        )
    )
    assert set(td15) == set(td10) | {"mr_service_td", "tee_tcb_svn2"}
    # The Alibaba quote is the one dcap-qvl rejects for a non-zero MR_SERVICETD.
    assert td15["mr_service_td"].startswith("383c87d3bbb047b2")


def test_td_report_15_ex_fields(vectors_dir: Path) -> None:
    data = (vectors_dir / "phala-dcap-qvl/sdist-0.7.0/tdx_quote_td15ex").read_bytes()
    quote = parse_quote(data)
    body = quote.body
    assert isinstance(body, TdReport)
    assert body.extension is not None
    assert len(body.raw) == 885
    assert len(quote.signed_data) == 48 + 6 + 885
    # Offsets cross-checked against the raw bytes (body starts at 54 in a v5 quote).
    assert body.extension.vm_id == data[54 + 648]
    assert body.extension.td_id == data[54 + 649 : 54 + 681]
    assert body.extension.td_id.hex().startswith("e1f3ee829cb6f039")
    assert body.extension.cur_service_td_attributes == data[54 + 877 : 54 + 885]
    assert body.mr_td.hex().startswith("2a674327c50218db")
    assert body.mr_service_td == bytes(48)


def test_td_debug_flag(vectors_dir: Path) -> None:
    quote = load(vectors_dir, "coco-trustee/tdx_quote_4.dat")
    assert isinstance(quote.body, TdReport)
    assert quote.body.td_attributes[0] & 1
    assert quote.is_debug


def test_hex_and_binary_copies_agree(vectors_dir: Path) -> None:
    folder = "automata-dcap-attestation/evm-forge-test-assets/quotes/"
    binary = load(vectors_dir, folder + "alibaba_quote_5.dat")
    text = load(vectors_dir, folder + "alibaba_quote_5.hex")
    assert binary == text


def test_quote_with_non_zero_trailing_bytes_is_refused(vectors_dir: Path) -> None:
    """go-tdx-guest appends b"\\nextra bytes(only for testing purpose)\\n" to a real quote.

    The signature does not cover bytes after the signature data; veil ignores zero padding
    only, so one quote has one accepted encoding (bar padding) and framing mistakes surface.
    """
    data = (vectors_dir / "google-go-tdx-guest/tdx_prod_quote_SPR_E4.dat").read_bytes()
    with pytest.raises(QuoteFormatError, match=r"39 trailing bytes .* not zero padding"):
        parse_quote(data)
    end = len(data) - 39
    assert data[end:] == b"\nextra bytes(only for testing purpose)\n"
    quote = parse_quote(data[:end])
    assert (quote.version, quote.tee, quote.body_type) == (4, Tee.TDX, 2)
    assert parse_quote(data[:end] + bytes(39)).raw == quote.raw


def test_report_from_the_quote_equals_report_from_its_bytes(vectors_dir: Path) -> None:
    quote = load(vectors_dir, "phala-dcap-qvl/sgx_quote")
    assert EnclaveReport.from_bytes(quote.body.raw) == quote.body
    qe_report = quote.certification.qe_report
    assert EnclaveReport.from_bytes(qe_report.raw) == qe_report
