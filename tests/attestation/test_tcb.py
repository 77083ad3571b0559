"""TCB info / QE identity models, the PCK extension, TCB level matching and status merge."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.attestation.synthetic_pki import encode_sgx_extension
from veil.attestation.collateral import Collateral
from veil.attestation.errors import CollateralFormatError, QuoteVerificationError
from veil.attestation.pck import PckCaType, PckExtension, PckExtensionError, pck_ca_type_of
from veil.attestation.qe_identity import QeIdentity
from veil.attestation.quote import EnclaveReport, TdReport, parse_quote
from veil.attestation.result import TcbStatus
from veil.attestation.tcb import (
    TcbVerdict,
    check_qe_identity,
    check_tdx_module,
    converge,
    match_tcb_level,
    merge_statuses,
)
from veil.attestation.tcb_info import TcbInfo, TcbLevel

S = TcbStatus
ASSEMBLED = "_assembled"


def _collateral(vectors: Path, bundle: str) -> Collateral:
    return Collateral.from_dcap_qvl_json(
        (vectors / ASSEMBLED / bundle / "collateral.json").read_bytes()
    )


@pytest.fixture(scope="module")
def sgx_collateral(vectors_dir: Path) -> Collateral:
    return _collateral(vectors_dir, "phala_dcap_qvl_sgx_quote")


@pytest.fixture(scope="module")
def tdx_collateral(vectors_dir: Path) -> Collateral:
    return _collateral(vectors_dir, "google_go_tdx_guest_ccel_cos_113_tdx_quote_dat")


@pytest.fixture(scope="module")
def tdx_report(vectors_dir: Path) -> TdReport:
    quote = parse_quote(
        (vectors_dir / "google-go-tdx-guest" / "ccel" / "cos-113-tdx-quote.dat").read_bytes()
    )
    assert isinstance(quote.body, TdReport)
    return quote.body


@pytest.fixture(scope="module")
def qe_report(vectors_dir: Path) -> EnclaveReport:
    return parse_quote(
        (vectors_dir / "phala-dcap-qvl" / "sgx_quote").read_bytes()
    ).certification.qe_report


# ----- status convergence ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "component", "expected"),
    [
        (S.UP_TO_DATE, S.UP_TO_DATE, S.UP_TO_DATE),
        (S.UP_TO_DATE, S.OUT_OF_DATE, S.OUT_OF_DATE),
        (S.SW_HARDENING_NEEDED, S.OUT_OF_DATE, S.OUT_OF_DATE),
        (S.CONFIGURATION_NEEDED, S.OUT_OF_DATE, S.OUT_OF_DATE_CONFIGURATION_NEEDED),
        (S.CONFIGURATION_AND_SW_HARDENING_NEEDED, S.OUT_OF_DATE,
         S.OUT_OF_DATE_CONFIGURATION_NEEDED),
        (S.OUT_OF_DATE_CONFIGURATION_NEEDED, S.OUT_OF_DATE, S.OUT_OF_DATE_CONFIGURATION_NEEDED),
        (S.CONFIGURATION_NEEDED, S.REVOKED, S.REVOKED),
        # Only OutOfDate and Revoked components move the platform status (Intel QVL).
        (S.UP_TO_DATE, S.CONFIGURATION_NEEDED, S.UP_TO_DATE),
        (S.SW_HARDENING_NEEDED, S.UP_TO_DATE, S.SW_HARDENING_NEEDED),
        (S.OUT_OF_DATE, S.UP_TO_DATE, S.OUT_OF_DATE),
    ],
)  # fmt: skip
def test_converge_matches_intel_qvl(platform: S, component: S, expected: S) -> None:
    assert converge(platform, component) is expected


def _level(status: S, advisories: tuple[str, ...] = (), sgx: bytes = bytes(16)) -> TcbLevel:
    return TcbLevel(
        sgx_components=sgx,
        pce_svn=0,
        tdx_components=None,
        tcb_date=datetime(2024, 1, 1, tzinfo=UTC),
        status=status,
        advisory_ids=advisories,
    )


def test_merge_unions_advisories_in_order_without_duplicates() -> None:
    verdict = merge_statuses(
        _level(S.SW_HARDENING_NEEDED, ("SA-1", "SA-2")),
        TcbVerdict(S.OUT_OF_DATE, ("SA-2", "SA-3")),
        TcbVerdict(S.UP_TO_DATE, ("SA-4",)),
    )
    assert verdict == TcbVerdict(S.OUT_OF_DATE, ("SA-1", "SA-2", "SA-3", "SA-4"))


@pytest.mark.parametrize(
    ("platform", "module", "qe"),
    [
        (S.REVOKED, None, S.UP_TO_DATE),
        (S.UP_TO_DATE, S.REVOKED, S.UP_TO_DATE),
        (S.UP_TO_DATE, None, S.REVOKED),
    ],
)
def test_revoked_anywhere_is_step_10(platform: S, module: S | None, qe: S) -> None:
    with pytest.raises(QuoteVerificationError) as caught:
        merge_statuses(
            _level(platform), None if module is None else TcbVerdict(module), TcbVerdict(qe)
        )
    assert caught.value.step == "10.1"


# ----- TCB levels ----------------------------------------------------------------------------


def test_sgx_components_are_compared_one_by_one_not_lexicographically(
    sgx_collateral: Collateral,
) -> None:
    info = TcbInfo.from_json(sgx_collateral.tcb_info)
    top = info.tcb_levels[0]
    # Higher first component but one lower later component: not at the top level.
    platform = bytes(
        [top.sgx_components[0] + 1, top.sgx_components[1] - 1, *top.sgx_components[2:]]
    )
    level = match_tcb_level(info, sgx_components=platform, pce_svn=top.pce_svn, tee_tcb_svn=None)
    assert level is not top
    assert all(a >= b for a, b in zip(platform, level.sgx_components, strict=True))
    with pytest.raises(QuoteVerificationError, match=r"step 9\.2: no matching TCB level"):
        match_tcb_level(info, sgx_components=bytes(16), pce_svn=0, tee_tcb_svn=None)
    below_pce = match_tcb_level(info, sgx_components=top.sgx_components, pce_svn=top.pce_svn - 1,
                                tee_tcb_svn=None)  # fmt: skip
    assert below_pce.pce_svn < top.pce_svn


def test_tdx_module_bytes_are_skipped_when_the_module_version_is_set(
    tdx_collateral: Collateral,
) -> None:
    """Intel QVL isTdxTcbHigherOrEqual: TEE_TCB_SVN[1] > 0 → compare from index 2."""
    info = TcbInfo.from_json(tdx_collateral.tcb_info)
    top = info.tcb_levels[0]
    assert top.tdx_components is not None
    sgx, pce = top.sgx_components, top.pce_svn
    below_module = bytes([top.tdx_components[0] - 1, 1, *top.tdx_components[2:]])
    assert match_tcb_level(info, sgx_components=sgx, pce_svn=pce, tee_tcb_svn=below_module) is top
    version_zero = bytes([top.tdx_components[0] - 1, 0, *top.tdx_components[2:]])
    assert (
        match_tcb_level(info, sgx_components=sgx, pce_svn=pce, tee_tcb_svn=version_zero) is not top
    )


def test_tdx_module_identity(tdx_collateral: Collateral, tdx_report: TdReport) -> None:
    info = TcbInfo.from_json(tdx_collateral.tcb_info)
    assert tdx_report.tee_tcb_svn[1] == 1
    verdict = check_tdx_module(info, tdx_report)
    assert verdict is not None
    assert verdict.status is S.UP_TO_DATE

    def step(report: TdReport, tcb_info: TcbInfo = info) -> str:
        with pytest.raises(QuoteVerificationError) as caught:
            check_tdx_module(tcb_info, report)
        return caught.value.step

    assert step(dataclasses.replace(tdx_report, mr_signer_seam=b"\x01" * 48)) == "9.1"
    assert step(dataclasses.replace(tdx_report, seam_attributes=b"\x01" + bytes(7))) == "9.1"
    unknown_version = bytes([tdx_report.tee_tcb_svn[0], 0x7F, *tdx_report.tee_tcb_svn[2:]])
    assert step(dataclasses.replace(tdx_report, tee_tcb_svn=unknown_version)) == "9.1"
    too_old = bytes([0, 1, *tdx_report.tee_tcb_svn[2:]])
    assert step(dataclasses.replace(tdx_report, tee_tcb_svn=too_old)) == "9.3"
    assert step(tdx_report, dataclasses.replace(info, tdx_module=None)) == "9.1"
    version_zero = bytes([5, 0, *tdx_report.tee_tcb_svn[2:]])
    assert check_tdx_module(info, dataclasses.replace(tdx_report, tee_tcb_svn=version_zero)) is None


# ----- QE identity ---------------------------------------------------------------------------


def test_qe_identity_checks(sgx_collateral: Collateral, qe_report: EnclaveReport) -> None:
    identity = QeIdentity.from_json(sgx_collateral.qe_identity)
    assert check_qe_identity(identity, qe_report) == TcbVerdict(S.UP_TO_DATE, ())

    def step(report: EnclaveReport = qe_report, qe: QeIdentity = identity) -> str:
        with pytest.raises(QuoteVerificationError) as caught:
            check_qe_identity(qe, report)
        return caught.value.step

    assert step(dataclasses.replace(qe_report, mr_signer=bytes(32))) == "8.1"
    assert step(dataclasses.replace(qe_report, isv_prod_id=qe_report.isv_prod_id + 1)) == "8.2"
    assert step(dataclasses.replace(qe_report, misc_select=qe_report.misc_select ^ 1)) == "8.3"
    debug = bytes([qe_report.attributes[0] | 0x02]) + qe_report.attributes[1:]
    assert step(dataclasses.replace(qe_report, attributes=debug)) == "8.4"
    # Bits outside the mask do not matter.
    ignored = qe_report.attributes[:8] + b"\xff" * 8
    assert check_qe_identity(identity, dataclasses.replace(qe_report, attributes=ignored))
    assert step(dataclasses.replace(qe_report, isv_svn=0)) == "8.5"
    lowest = identity.tcb_levels[-1]
    at_lowest = check_qe_identity(identity, dataclasses.replace(qe_report, isv_svn=lowest.isv_svn))
    assert at_lowest.status is lowest.status


# ----- TCB info and QE identity models ---------------------------------------------------------


def test_tcb_info_v3_sgx_and_tdx_and_v2(
    sgx_collateral: Collateral, tdx_collateral: Collateral, vectors_dir: Path
) -> None:
    sgx = TcbInfo.from_json(sgx_collateral.tcb_info)
    assert (sgx.id, sgx.version, sgx.fmspc.hex()) == ("SGX", 3, "00a067110000")
    assert sgx.tdx_module is None
    assert not sgx.is_tdx
    tdx = TcbInfo.from_json(tdx_collateral.tcb_info)
    assert tdx.is_tdx
    assert tdx.tdx_module is not None
    assert [i.id for i in tdx.tdx_module_identities] == ["TDX_03", "TDX_01"]
    assert all(level.tdx_components is not None for level in tdx.tcb_levels)
    v2 = TcbInfo.from_json(_collateral(vectors_dir, "coco_trustee_occlum_quote_dat").tcb_info)
    assert (v2.id, v2.version, len(v2.tcb_levels[0].sgx_components)) == ("SGX", 2, 16)
    for info in (sgx, tdx, v2):
        keys = [
            (level.sgx_components, level.pce_svn, level.tdx_components or b"")
            for level in info.tcb_levels
        ]
        assert keys == sorted(keys, reverse=True)


def test_tcb_levels_are_put_in_canonical_order(sgx_collateral: Collateral) -> None:
    document = json.loads(sgx_collateral.tcb_info)
    document["tcbLevels"].reverse()
    shuffled = TcbInfo.from_json(json.dumps(document).encode())
    assert shuffled.tcb_levels == TcbInfo.from_json(sgx_collateral.tcb_info).tcb_levels


def _mutated(data: bytes, change: dict[str, object]) -> bytes:
    document = json.loads(data)
    for key, value in change.items():
        if value is None:
            del document[key]
        else:
            document[key] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "change",
    [
        {"version": 4},
        {"version": 2, "id": "TDX"},
        {"id": "SEV"},
        {"tcbType": 1},
        {"fmspc": "00A0671100"},
        {"fmspc": "zz0067110000"},
        {"issueDate": "2025-06-19 10:56:11"},
        {"nextUpdate": None},
        {"tcbLevels": []},
        {"tcbLevels": [{"tcb": {"sgxtcbcomponents": [{"svn": 1}] * 15, "pcesvn": 1},
                        "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": "UpToDate"}]},
        {"tcbLevels": [{"tcb": {"sgxtcbcomponents": [{"svn": 256}] * 16, "pcesvn": 1},
                        "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": "UpToDate"}]},
        {"tcbLevels": [{"tcb": {"sgxtcbcomponents": [{"svn": True}] * 16, "pcesvn": 1},
                        "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": "UpToDate"}]},
        {"tcbLevels": [{"tcb": {"sgxtcbcomponents": [{"svn": 1}] * 16, "pcesvn": 1},
                        "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": "Fine"}]},
        {"tcbLevels": [{"tcb": {"sgxtcbcomponents": [{"svn": 1}] * 16, "pcesvn": -1},
                        "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": "UpToDate"}]},
    ],
)  # fmt: skip
def test_tcb_info_refuses_malformed_fields(
    sgx_collateral: Collateral, change: dict[str, object]
) -> None:
    with pytest.raises(CollateralFormatError):
        TcbInfo.from_json(_mutated(sgx_collateral.tcb_info, change))


def test_tdx_tcb_info_needs_its_tdx_fields(tdx_collateral: Collateral) -> None:
    with pytest.raises(CollateralFormatError, match="tdxModule"):
        TcbInfo.from_json(_mutated(tdx_collateral.tcb_info, {"tdxModule": None}))


def test_qe_identity_model(sgx_collateral: Collateral, tdx_collateral: Collateral) -> None:
    qe = QeIdentity.from_json(sgx_collateral.qe_identity)
    assert (qe.id, qe.version, qe.isv_prod_id) == ("QE", 2, 1)
    assert [level.isv_svn for level in qe.tcb_levels] == sorted(
        (level.isv_svn for level in qe.tcb_levels), reverse=True
    )
    assert QeIdentity.from_json(tdx_collateral.qe_identity).id == "TD_QE"
    changes: list[dict[str, object]] = [
        {"version": 3}, {"id": "XX"}, {"mrsigner": "00"}, {"tcbLevels": []},
        {"isvprodid": 70000}, {"miscselect": None},
    ]  # fmt: skip
    for change in changes:
        with pytest.raises(CollateralFormatError):
            QeIdentity.from_json(_mutated(sgx_collateral.qe_identity, change))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_tcb_info_and_qe_identity_parsers_raise_only_their_error(data: bytes) -> None:
    for parse in (TcbInfo.from_json, QeIdentity.from_json):
        with contextlib.suppress(CollateralFormatError):
            parse(data)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "version",
                    "tcbLevels",
                    "tcb",
                    "svn",
                    "pcesvn",
                    "tcbStatus",
                    "issueDate",
                    "fmspc",
                    "sgxtcbcomponents",
                    "tdxModule",
                    "isvsvn",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_JSON)
def test_parsers_raise_only_their_error_on_any_json(value: object) -> None:
    data = json.dumps(value).encode()
    for parse in (TcbInfo.from_json, QeIdentity.from_json):
        with contextlib.suppress(CollateralFormatError):
            parse(data)


# ----- the PCK certificate's SGX extension -----------------------------------------------------


@pytest.fixture(scope="module")
def pck_certificate(vectors_dir: Path) -> x509.Certificate:
    quote = parse_quote((vectors_dir / "phala-dcap-qvl" / "sgx_quote").read_bytes())
    return x509.load_pem_x509_certificates(quote.certification.pck_cert_chain_pem.rstrip(b"\0"))[0]


def test_pck_extension_of_a_real_certificate(pck_certificate: x509.Certificate) -> None:
    extension = PckExtension.from_certificate(pck_certificate)
    assert extension.fmspc.hex().upper() == "00A067110000"
    assert extension.pce_id == b"\x00\x00"
    assert extension.tcb_components == extension.cpu_svn
    assert (extension.pce_svn, extension.sgx_type) == (13, 0)
    assert pck_ca_type_of(pck_certificate) is PckCaType.PROCESSOR


def test_pck_extension_round_trips_through_the_test_encoder() -> None:
    der = encode_sgx_extension(
        fmspc=bytes.fromhex("112233445566"), components=bytes(range(16)), pce_svn=300, sgx_type=2
    )
    extension = PckExtension.from_der(der)
    assert (extension.fmspc.hex(), extension.tcb_components, extension.pce_svn) == (
        "112233445566",
        bytes(range(16)),
        300,
    )
    assert extension.platform_instance_id is None


def _extension_value(certificate: x509.Certificate) -> bytes:
    value = certificate.extensions.get_extension_for_oid(
        x509.ObjectIdentifier("1.2.840.113741.1.13.1")
    ).value
    assert isinstance(value, x509.UnrecognizedExtension)
    return value.value


def test_pck_extension_refuses_malformed_der(pck_certificate: x509.Certificate) -> None:
    der = _extension_value(pck_certificate)
    for bad in (
        der[:-1],  # truncated
        der + b"\x00",  # trailing
        b"\x31" + der[1:],  # not a SEQUENCE
        b"",
        encode_sgx_extension(fmspc=b"\x00" * 5),  # short FMSPC
        encode_sgx_extension(fmspc=b"\x00" * 6, components=bytes(16), pce_svn=70000),
    ):
        with pytest.raises(PckExtensionError):
            PckExtension.from_der(bad)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_pck_extension_parser_raises_only_its_error(data: st.DataObject) -> None:
    base = encode_sgx_extension(fmspc=b"\x00\xa0\x67\x11\x00\x00", components=bytes(16))
    offset = data.draw(st.integers(0, len(base) - 1))
    value = data.draw(st.integers(0, 255))
    mutated = base[:offset] + bytes([value]) + base[offset + 1 :]
    cut = data.draw(st.integers(0, len(mutated)))
    for candidate in (mutated, mutated[:cut], data.draw(st.binary(max_size=64))):
        with contextlib.suppress(PckExtensionError):
            PckExtension.from_der(candidate)


def test_pck_ca_type_needs_an_intel_pck_ca_issuer(vectors_dir: Path) -> None:
    root = x509.load_der_x509_certificate(
        (vectors_dir / "phala-dcap-qvl" / "TrustedRootCA.der").read_bytes()
    )
    with pytest.raises(PckExtensionError):
        pck_ca_type_of(root)
    with pytest.raises(PckExtensionError, match="no SGX extension"):
        PckExtension.from_certificate(root)


def test_pck_ca_type_of_a_malformed_issuer_is_its_error(pck_certificate: x509.Certificate) -> None:
    """Found by fuzz/pck_chain.py: cryptography decodes the issuer lazily, with a ValueError."""
    der = pck_certificate.public_bytes(Encoding.DER)
    country = bytes.fromhex("060355040613025553")  # C=US as a PrintableString
    position = der.index(country)  # the issuer comes before the subject
    malformed = der[: position + 5] + b"\x0f" + der[position + 6 :]  # a reserved tag
    certificate = x509.load_der_x509_certificate(malformed)
    with pytest.raises(PckExtensionError, match="issuer is malformed"):
        pck_ca_type_of(certificate)
