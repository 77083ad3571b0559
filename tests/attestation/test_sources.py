"""Collateral sources against a fake PCS/PCCS (httpx.MockTransport) serving real Intel-signed
pieces from the vectors; no network."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from veil.attestation.api import verify_attestation
from veil.attestation.collateral import Collateral, load_collateral
from veil.attestation.errors import CollateralFormatError, QuoteFormatError
from veil.attestation.pck import PckCaType
from veil.attestation.quote import parse_quote
from veil.attestation.result import TcbStatus, Tee
from veil.attestation.sources.cache import CachingCollateralSource, earliest_next_update
from veil.attestation.sources.file import FileCollateralSource
from veil.attestation.sources.interface import query_for
from veil.attestation.sources.pccs import PccsSource, pccs_root_url
from veil.attestation.sources.pcs import INTEL_ROOT_CA_CRL_URL, IntelPcsSource
from veil.errors import ConfigError, ServiceError

#: Only in the shared vectors (tests/vectors/README.md): the tests that use them skip without.
SGX_QUOTE = "cosmian-enclave/ratls_quote_extracted.bin"
SGX_BUNDLE = "_assembled/cosmian_enclave_ratls_quote_extracted_bin/collateral.json"
SGX_AT = datetime(2023, 6, 24, 12, 34, 31, tzinfo=UTC)
TDX_QUOTE = "google-go-tdx-guest/ccel/cos-113-tdx-quote.dat"
TDX_BUNDLE = "_assembled/google_go_tdx_guest_ccel_cos_113_tdx_quote_dat/collateral.json"
TDX_AT = datetime(2025, 6, 26, 21, 50, 26, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


class FakePcs:
    """Serves one collateral set the way Intel PCS v4 does (bodies + URL-encoded chain headers)."""

    def __init__(self, collateral: Collateral) -> None:
        self.c = collateral
        self.requests: list[httpx.Request] = []
        self.failures: dict[str, list[int]] = {}

    def _chain(self, pem: bytes) -> str:
        return urllib.parse.quote(pem.decode())

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        pending = self.failures.get(path)
        if pending:
            return httpx.Response(pending.pop(0))
        c = self.c
        if path.endswith("/tcb"):
            body = (
                b'{"tcbInfo":'
                + c.tcb_info
                + b',"signature":"'
                + c.tcb_info_signature.hex().encode()
                + b'"}'
            )
            return httpx.Response(
                200,
                content=body,
                headers={"TCB-Info-Issuer-Chain": self._chain(c.tcb_info_issuer_chain)},
            )
        if path.endswith("/qe/identity"):
            body = (
                b'{"enclaveIdentity":'
                + c.qe_identity
                + b',"signature":"'
                + c.qe_identity_signature.hex().encode()
                + b'"}'
            )
            return httpx.Response(
                200,
                content=body,
                headers={
                    "SGX-Enclave-Identity-Issuer-Chain": self._chain(c.qe_identity_issuer_chain)
                },
            )
        if path.endswith("/pckcrl"):
            return httpx.Response(
                200,
                content=c.pck_crl,
                headers={"SGX-PCK-CRL-Issuer-Chain": self._chain(c.pck_crl_issuer_chain)},
            )
        if path.endswith(("/rootcacrl", "/IntelSGXRootCA.der")):
            # PCCS serves it hex-encoded; Intel's distribution point serves DER.
            body = c.root_ca_crl.hex().encode() if path.endswith("rootcacrl") else c.root_ca_crl
            return httpx.Response(200, content=body)
        return httpx.Response(404)


def _bundle(vectors_dir: Path, name: str) -> Collateral:
    return load_collateral((vectors_dir / name).read_bytes())


def _client(handler: Handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _no_sleep(_seconds: float) -> None:
    return None


def test_query_for_reads_fmspc_and_ca(shared_vectors_dir: Path) -> None:
    query = query_for(parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes()))
    assert (query.tee, query.fmspc, query.ca) == (Tee.SGX, "30606A000000", PckCaType.PLATFORM)
    assert query.cache_key == "sgx-30606a000000-platform"
    processor = query_for(
        parse_quote((shared_vectors_dir / "phala-dcap-qvl/sgx_quote").read_bytes())
    )
    assert processor.ca is PckCaType.PROCESSOR


def test_intel_pcs_source_fetches_a_verifiable_bundle(shared_vectors_dir: Path) -> None:
    expected = _bundle(shared_vectors_dir, SGX_BUNDLE)
    fake = FakePcs(expected)
    source = IntelPcsSource(client=_client(fake), sleep=_no_sleep)
    quote = (shared_vectors_dir / SGX_QUOTE).read_bytes()
    collateral = source.get_collateral(parse_quote(quote), now=SGX_AT)
    assert collateral.digest() == expected.digest()
    assert collateral.fetched_at == SGX_AT
    urls = [str(r.url) for r in fake.requests]
    assert urls == [
        "https://api.trustedservices.intel.com/sgx/certification/v4/tcb?fmspc=30606A000000",
        "https://api.trustedservices.intel.com/sgx/certification/v4/qe/identity",
        "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
        INTEL_ROOT_CA_CRL_URL,
    ]
    verified = verify_attestation(
        quote, collateral=collateral, simulation_root_public_key=None, now=SGX_AT
    )
    assert verified.tcb_status is TcbStatus.OUT_OF_DATE


def test_pccs_source_uses_the_tdx_paths_and_rootcacrl(vectors_dir: Path) -> None:
    expected = _bundle(vectors_dir, TDX_BUNDLE)
    fake = FakePcs(expected)
    source = PccsSource("https://localhost:8081/sgx/certification/v4/", client=_client(fake))
    quote = (vectors_dir / TDX_QUOTE).read_bytes()
    collateral = source.get_collateral(parse_quote(quote), now=TDX_AT)
    assert collateral.digest() == expected.digest()
    paths = [r.url.path for r in fake.requests]
    assert paths == [
        "/tdx/certification/v4/tcb",
        "/tdx/certification/v4/qe/identity",
        "/sgx/certification/v4/pckcrl",
        "/sgx/certification/v4/rootcacrl",
    ]
    assert all(r.url.host == "localhost" for r in fake.requests)
    verified = verify_attestation(
        quote, collateral=collateral, simulation_root_public_key=None, now=TDX_AT
    )
    assert verified.tcb_status is TcbStatus.UP_TO_DATE


@pytest.mark.parametrize(
    "url",
    [
        "https://pccs.example:8081",
        "https://pccs.example:8081/",
        "https://pccs.example:8081/sgx/certification/v4/",
        "https://pccs.example:8081/tdx/certification/v4",
    ],
)
def test_pccs_url_normalisation(url: str) -> None:
    assert pccs_root_url(url) == "https://pccs.example:8081"


def test_pccs_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        pccs_root_url("file:///etc/passwd")


def test_5xx_is_retried_with_backoff(shared_vectors_dir: Path) -> None:
    fake = FakePcs(_bundle(shared_vectors_dir, SGX_BUNDLE))
    fake.failures["/sgx/certification/v4/tcb"] = [503, 502]
    delays: list[float] = []
    source = IntelPcsSource(client=_client(fake), sleep=delays.append)
    source.get_collateral(parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes()), now=SGX_AT)
    assert delays == [0.5, 1.0]


def test_persistent_5xx_is_a_service_error(shared_vectors_dir: Path) -> None:
    fake = FakePcs(_bundle(shared_vectors_dir, SGX_BUNDLE))
    fake.failures["/sgx/certification/v4/qe/identity"] = [500, 500, 500]
    source = IntelPcsSource(client=_client(fake), sleep=_no_sleep)
    with pytest.raises(ServiceError, match="unreachable after 3 attempts"):
        source.get_collateral(
            parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes()), now=SGX_AT
        )


def test_connection_errors_are_retried_then_a_service_error(shared_vectors_dir: Path) -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused", request=request)

    source = IntelPcsSource(client=_client(refuse), sleep=_no_sleep)
    with pytest.raises(ServiceError, match="ConnectError"):
        source.get_collateral(
            parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes()), now=SGX_AT
        )
    assert calls == 3


def test_4xx_is_not_retried(shared_vectors_dir: Path) -> None:
    fake = FakePcs(_bundle(shared_vectors_dir, SGX_BUNDLE))
    fake.failures["/sgx/certification/v4/tcb"] = [404]
    source = IntelPcsSource(client=_client(fake), sleep=_no_sleep)
    with pytest.raises(ServiceError, match="answered HTTP 404"):
        source.get_collateral(
            parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes()), now=SGX_AT
        )
    assert len(fake.requests) == 1


def test_oversized_response_is_refused(shared_vectors_dir: Path) -> None:
    def huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * (4 * 1024 * 1024 + 1))

    source = IntelPcsSource(client=_client(huge), sleep=_no_sleep)
    with pytest.raises(ServiceError, match="exceeds"):
        source.get_collateral(
            parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes()), now=SGX_AT
        )


def test_missing_chain_header_and_bad_body_are_format_errors(shared_vectors_dir: Path) -> None:
    fake = FakePcs(_bundle(shared_vectors_dir, SGX_BUNDLE))

    def no_header(request: httpx.Request) -> httpx.Response:
        response = fake(request)
        return httpx.Response(response.status_code, content=response.content)

    quote = parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes())
    with pytest.raises(CollateralFormatError, match="TCB-Info-Issuer-Chain"):
        IntelPcsSource(client=_client(no_header)).get_collateral(quote, now=SGX_AT)

    def bad_body(request: httpx.Request) -> httpx.Response:
        response = fake(request)
        if request.url.path.endswith("/tcb"):
            return httpx.Response(200, content=b"{not json", headers=response.headers)
        return response

    with pytest.raises(CollateralFormatError):
        IntelPcsSource(client=_client(bad_body)).get_collateral(quote, now=SGX_AT)


# --- file and cache ------------------------------------------------------------------------------


def test_file_source(shared_vectors_dir: Path, tmp_path: Path) -> None:
    quote = parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes())
    source = FileCollateralSource(shared_vectors_dir / SGX_BUNDLE)
    assert (
        source.get_collateral(quote, now=SGX_AT).digest()
        == _bundle(shared_vectors_dir, SGX_BUNDLE).digest()
    )
    with pytest.raises(ConfigError, match="cannot read collateral file"):
        FileCollateralSource(tmp_path / "missing.json").get_collateral(quote, now=SGX_AT)
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(CollateralFormatError):
        FileCollateralSource(bad).get_collateral(quote, now=SGX_AT)


class CountingSource:
    def __init__(self, collateral: Collateral) -> None:
        self.collateral = collateral
        self.calls = 0

    def get_collateral(self, quote: object, *, now: datetime) -> Collateral:
        self.calls += 1
        return self.collateral


def test_cache_serves_until_the_first_next_update(shared_vectors_dir: Path, tmp_path: Path) -> None:
    collateral = _bundle(shared_vectors_dir, SGX_BUNDLE)
    inner = CountingSource(collateral)
    cache = CachingCollateralSource(inner, tmp_path / "cache")
    quote = parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes())
    due = earliest_next_update(collateral)
    assert cache.get_collateral(quote, now=SGX_AT).digest() == collateral.digest()
    assert (tmp_path / "cache/sgx-30606a000000-platform.json").is_file()
    assert (
        cache.get_collateral(quote, now=due - timedelta(seconds=1)).digest() == collateral.digest()
    )
    assert inner.calls == 1
    cache.get_collateral(quote, now=due)
    assert inner.calls == 2


def test_cache_replaces_a_corrupt_file(shared_vectors_dir: Path, tmp_path: Path) -> None:
    collateral = _bundle(shared_vectors_dir, SGX_BUNDLE)
    inner = CountingSource(collateral)
    cache = CachingCollateralSource(inner, tmp_path)
    quote = parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes())
    (tmp_path / "sgx-30606a000000-platform.json").write_text('{"format": "veil-collateral"}')
    cache.get_collateral(quote, now=SGX_AT)
    assert inner.calls == 1
    stored = json.loads((tmp_path / "sgx-30606a000000-platform.json").read_text())
    assert stored["format"] == "veil-collateral"
    assert not list(tmp_path.glob(".tmp-*"))


def test_earliest_next_update_of_the_cosmian_bundle(shared_vectors_dir: Path) -> None:
    due = earliest_next_update(_bundle(shared_vectors_dir, SGX_BUNDLE))
    assert SGX_AT < due <= datetime(2023, 6, 29, 0, 45, tzinfo=UTC)


def test_query_for_a_quote_without_a_readable_pck(shared_vectors_dir: Path) -> None:
    quote = parse_quote((shared_vectors_dir / SGX_QUOTE).read_bytes())
    broken = type(quote.certification)(
        qe_report=quote.certification.qe_report,
        qe_report_signature=quote.certification.qe_report_signature,
        qe_auth_data=quote.certification.qe_auth_data,
        pck_cert_chain_pem=b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    with pytest.raises(QuoteFormatError, match="PCK certificate is unreadable"):
        query_for(replace(quote, certification=broken))
