"""Attacks on the TDX / SEV-SNP guest identity: the operator's image sets RTMR3 or HOST_DATA.

Each verified quote here starts from a real one (a TDX quote and SEV-SNP reports from the shared
vectors) with its registers replaced the way an operator's own image would set them; the policy
``build_policy`` builds from the verifier's expectations must refuse each one.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from veil.attestation.errors import PolicyError
from veil.attestation.quote import measurements_of, parse_quote
from veil.attestation.result import TcbStatus, Tee, VerifiedQuote
from veil.attestation.snp_report import parse_snp_report, snp_measurements_of
from veil.client.expect import ExpectedApp, build_policy, compared_registers
from veil.crypto.digest import sha256_tagged
from veil.identity.app import extend_rtmr, security_config_digest, snp_host_data, tdx_rtmr_event
from veil.identity.reference import ImageReference
from veil.identity.runtime import RuntimeIdentity

NOW = datetime(2026, 3, 1, tzinfo=UTC)
RUNTIME = RuntimeIdentity(version="1.2.3", digest=sha256_tagged(b"runtime files"))
FINGERPRINT = sha256_tagged(b"the app archive")
SECURITY_CONFIG = b'{"name":"demo"}'
CONFIG_DIGEST = security_config_digest(SECURITY_CONFIG)
#: What the image extends into RTMR3 before veil (e.g. a measured container runtime config).
IMAGE_EVENT = bytes.fromhex("5e" * 48)
APP_EVENT = tdx_rtmr_event(RUNTIME, FINGERPRINT, CONFIG_DIGEST)
APP_HOST_DATA = snp_host_data(RUNTIME, FINGERPRINT, CONFIG_DIGEST)
# TD_ATTRIBUTES with only SEPT_VE_DISABLE set: the real quote's attributes are not the point.
TD_ATTR_OK = (1 << 28).to_bytes(8, "little").hex()
PROVENANCE = {
    "builder": {"name": "Example Images", "url": "https://images.example.com"},
    "build": {
        "source": "https://github.com/example/veil-guest",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "date": "2026-02-01T10:00:00Z",
    },
}


def _rtmr3(*events: bytes) -> str:
    value = bytes(48)
    for event in events:
        value = extend_rtmr(value, event)
    return value.hex()


def _reference(tee: str, measurements: Mapping[str, str], **extra: object) -> ImageReference:
    document = {
        "format": "veil-image-reference",
        "version": 1,
        "tee": tee,
        "name": "veil-guest-2026.02",
        "measurements": dict(measurements),
        **extra,
        **PROVENANCE,
    }
    return ImageReference.from_json(json.dumps(document).encode())


def _expected(image: ImageReference | None) -> ExpectedApp:
    return ExpectedApp(
        fingerprint=FINGERPRINT,
        security_config_json=SECURITY_CONFIG,
        runtime=RUNTIME,
        image=image,
    )


def _check(expected: ExpectedApp, verified: VerifiedQuote) -> None:
    build_policy(expected, verified.tee, allow_simulated_insecure=False).check(verified)


# --- TDX ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_tdx(vectors_dir: Path) -> dict[str, str]:
    """The identity of a real TDX quote (phala-dcap-qvl/tdx_quote)."""
    values = measurements_of(
        parse_quote((vectors_dir / "phala-dcap-qvl" / "tdx_quote").read_bytes())
    )
    values["td_attributes"] = TD_ATTR_OK
    values.pop("mr_service_td", None)
    return values


@pytest.fixture(scope="module")
def tdx_image(real_tdx: dict[str, str]) -> ImageReference:
    registers = {name: real_tdx[name] for name in ("mr_td", "rtmr0", "rtmr1", "rtmr2")}
    return _reference("tdx", registers, rtmr3_events=[IMAGE_EVENT.hex()])


def _tdx(values: Mapping[str, str], **changed: str) -> VerifiedQuote:
    return VerifiedQuote(
        tee=Tee.TDX,
        version=4,
        tcb_status=TcbStatus.UP_TO_DATE,
        measurements={**values, **changed},
        report_data=bytes(64),
        debug=False,
        fmspc="B0C06F000000",
        verified_at=NOW,
    )


def test_tdx_guest_of_the_image_running_the_app_is_accepted(
    real_tdx: dict[str, str], tdx_image: ImageReference
) -> None:
    quote = _tdx(real_tdx, rtmr3=_rtmr3(IMAGE_EVENT, APP_EVENT))
    _check(_expected(tdx_image), quote)
    compared = compared_registers(_expected(tdx_image), quote)
    assert list(compared) == ["mr_td", "rtmr0", "rtmr1", "rtmr2", "rtmr3"]


@pytest.mark.parametrize("register", ["mr_td", "rtmr0", "rtmr1", "rtmr2"])
def test_tdx_rtmr3_of_the_app_on_another_image_is_refused(
    real_tdx: dict[str, str], tdx_image: ImageReference, register: str
) -> None:
    """The operator boots its own firmware/kernel/initrd, which extends the app's event into
    RTMR3 exactly as veil would: only the image registers give it away."""
    quote = _tdx(real_tdx, rtmr3=_rtmr3(IMAGE_EVENT, APP_EVENT), **{register: "66" * 48})
    with pytest.raises(PolicyError, match=rf"policy rule {register}: the guest is not image"):
        _check(_expected(tdx_image), quote)


def test_tdx_evidence_without_image_reference_values_is_refused(
    real_tdx: dict[str, str],
) -> None:
    quote = _tdx(real_tdx, rtmr3=_rtmr3(APP_EVENT))
    with pytest.raises(PolicyError, match="--image"):
        _check(_expected(None), quote)


def test_tdx_evidence_without_any_expectation_is_refused(real_tdx: dict[str, str]) -> None:
    quote = _tdx(real_tdx, rtmr3=_rtmr3(APP_EVENT))
    with pytest.raises(PolicyError, match="--image"):
        build_policy(None, Tee.TDX, allow_simulated_insecure=False).check(quote)


def test_tdx_quote_behind_a_simulated_tee_argument_is_refused(real_tdx: dict[str, str]) -> None:
    policy = build_policy(_expected(None), Tee.SIMULATED, allow_simulated_insecure=True)
    with pytest.raises(PolicyError, match="--image"):
        policy.check(_tdx(real_tdx, rtmr3=_rtmr3(APP_EVENT)))


@pytest.mark.parametrize(
    ("events", "why"),
    [
        ((IMAGE_EVENT,), "app event was never extended"),
        ((APP_EVENT,), "the image's 1 event"),
        ((APP_EVENT, IMAGE_EVENT), "event sequence differs"),
        ((IMAGE_EVENT, APP_EVENT, APP_EVENT), "event sequence differs"),
        ((IMAGE_EVENT, bytes(48), APP_EVENT), "event sequence differs"),
    ],
)
def test_tdx_wrong_rtmr3_event_sequence_is_refused(
    real_tdx: dict[str, str], tdx_image: ImageReference, events: tuple[bytes, ...], why: str
) -> None:
    quote = _tdx(real_tdx, rtmr3=_rtmr3(*events))
    with pytest.raises(PolicyError, match=rf"policy rule rtmr3: RTMR3 is not the replay.*{why}"):
        _check(_expected(tdx_image), quote)


def test_tdx_real_quote_rtmr3_is_not_the_app(
    real_tdx: dict[str, str], tdx_image: ImageReference
) -> None:
    with pytest.raises(PolicyError, match="policy rule rtmr3"):
        _check(_expected(tdx_image), _tdx(real_tdx))


def test_snp_image_for_a_tdx_quote_is_refused(real_tdx: dict[str, str]) -> None:
    image = _reference("sev-snp", {"measurement": "11" * 48})
    with pytest.raises(PolicyError, match="are for sev-snp, the enclave is tdx"):
        _check(_expected(image), _tdx(real_tdx))


# --- SEV-SNP -----------------------------------------------------------------------------


def _snp_report(vectors_dir: Path, name: str = "coco-trustee/snp/test-report.bin") -> bytes:
    return (vectors_dir / name).read_bytes()


def _with(report: bytes, offset: int, fmt: str, value: int | bytes) -> bytes:
    changed = bytearray(report)
    struct.pack_into(fmt, changed, offset, value)
    return bytes(changed)


def _snp(report: bytes, *, host_data: bytes = APP_HOST_DATA) -> VerifiedQuote:
    """A verified SNP report: the real report's fields, launched with ``host_data``."""
    parsed = parse_snp_report(_with(report, 0xC0, "<32s", host_data))
    return VerifiedQuote(
        tee=Tee.SEV_SNP,
        version=parsed.version,
        tcb_status=TcbStatus.UP_TO_DATE,
        measurements=snp_measurements_of(parsed),
        report_data=parsed.report_data,
        debug=parsed.is_debug,
        verified_at=NOW,
    )


@pytest.fixture(scope="module")
def snp_image(vectors_dir: Path) -> ImageReference:
    measurement = parse_snp_report(_snp_report(vectors_dir)).measurement
    return _reference("sev-snp", {"measurement": measurement.hex()})


def test_snp_guest_of_the_image_launched_for_the_app_is_accepted(
    vectors_dir: Path, snp_image: ImageReference
) -> None:
    quote = _snp(_snp_report(vectors_dir))
    _check(_expected(snp_image), quote)
    compared = compared_registers(_expected(snp_image), quote)
    assert list(compared) == ["measurement", "host_data", "policy", "vmpl", "signing_key"]


def test_snp_evidence_without_image_reference_values_is_refused(vectors_dir: Path) -> None:
    with pytest.raises(PolicyError, match="--image"):
        _check(_expected(None), _snp(_snp_report(vectors_dir)))


def test_snp_wrong_measurement_is_refused(vectors_dir: Path, snp_image: ImageReference) -> None:
    report = _with(_snp_report(vectors_dir), 0x90, "<48s", b"\x66" * 48)
    with pytest.raises(PolicyError, match="policy rule measurement: the guest is not image"):
        _check(_expected(snp_image), _snp(report))


def test_snp_wrong_host_data_is_refused(vectors_dir: Path, snp_image: ImageReference) -> None:
    other = snp_host_data(RUNTIME, sha256_tagged(b"another app"), CONFIG_DIGEST)
    with pytest.raises(PolicyError, match="policy rule host_data: HOST_DATA is not this"):
        _check(_expected(snp_image), _snp(_snp_report(vectors_dir), host_data=other))


def test_snp_debug_policy_is_refused(vectors_dir: Path, snp_image: ImageReference) -> None:
    report = _snp_report(vectors_dir)
    policy = parse_snp_report(report).policy | (1 << 19)
    with pytest.raises(PolicyError, match="debug"):
        _check(_expected(snp_image), _snp(_with(report, 0x08, "<Q", policy)))


def test_snp_debug_policy_is_refused_even_if_the_verifier_missed_it(
    vectors_dir: Path, snp_image: ImageReference
) -> None:
    """The SnpGuest rule reads the policy bit itself, not only ``VerifiedQuote.debug``."""
    report = _snp_report(vectors_dir)
    quote = _snp(_with(report, 0x08, "<Q", parse_snp_report(report).policy | (1 << 19)))
    quote = VerifiedQuote(**{**quote.__dict__, "debug": False})
    with pytest.raises(PolicyError, match="policy rule snp_policy: the guest policy allows debug"):
        _check(_expected(snp_image), quote)


def test_snp_real_debug_report_is_refused(vectors_dir: Path) -> None:
    """google-go-sev-guest/attestation.bin was produced with the DEBUG policy bit set."""
    report = _snp_report(vectors_dir, "google-go-sev-guest/attestation.bin")
    image = _reference("sev-snp", {"measurement": parse_snp_report(report).measurement.hex()})
    with pytest.raises(PolicyError, match="debug"):
        _check(_expected(image), _snp(report))


def test_snp_migration_agent_is_refused(vectors_dir: Path, snp_image: ImageReference) -> None:
    report = _snp_report(vectors_dir)
    policy = parse_snp_report(report).policy | (1 << 18)
    with pytest.raises(PolicyError, match=r"policy rule snp_policy: .*migration agent"):
        _check(_expected(snp_image), _snp(_with(report, 0x08, "<Q", policy)))


@pytest.mark.parametrize("vmpl", [1, 2, 3])
def test_snp_vmpl_other_than_0_is_refused(
    vectors_dir: Path, snp_image: ImageReference, vmpl: int
) -> None:
    report = _with(_snp_report(vectors_dir), 0x30, "<I", vmpl)
    with pytest.raises(PolicyError, match=f"policy rule vmpl: the report comes from VMPL {vmpl}"):
        _check(_expected(snp_image), _snp(report))


def _vlek(report: bytes) -> bytes:
    return _with(report, 0x48, "<I", 1 << 2)


def test_snp_vlek_is_refused_unless_the_image_allows_it(
    vectors_dir: Path, snp_image: ImageReference
) -> None:
    report = _vlek(_snp_report(vectors_dir))
    with pytest.raises(PolicyError, match=r"policy rule signing_key: .*VLEK"):
        _check(_expected(snp_image), _snp(report))
    allowing = _reference("sev-snp", dict(snp_image.registers), allow_vlek=True)
    _check(_expected(allowing), _snp(report))


def test_snp_real_vlek_report_at_vmpl_1_is_refused(vectors_dir: Path) -> None:
    """coco-trustee/snp/test-vlek-report.bin: signed by a VLEK, requested from VMPL 1."""
    report = _snp_report(vectors_dir, "coco-trustee/snp/test-vlek-report.bin")
    image = _reference(
        "sev-snp", {"measurement": parse_snp_report(report).measurement.hex()}, allow_vlek=True
    )
    with pytest.raises(PolicyError, match="policy rule vmpl"):
        _check(_expected(image), _snp(report))
    with pytest.raises(PolicyError, match=r"policy rule (vmpl|signing_key)"):
        _check(_expected(_reference("sev-snp", dict(image.registers))), _snp(report))


def test_snp_unsigned_report_is_refused(vectors_dir: Path, snp_image: ImageReference) -> None:
    report = _with(_snp_report(vectors_dir), 0x48, "<I", 7 << 2)
    with pytest.raises(PolicyError, match="policy rule signing_key"):
        _check(_expected(snp_image), _snp(report))
