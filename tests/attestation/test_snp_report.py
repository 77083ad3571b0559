"""SEV-SNP report parsing: the layout table, real reports, and bad reports."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.attestation.errors import QuoteFormatError
from veil.attestation.snp_report import (
    SIGNING_KEY_VCEK,
    SIGNING_KEY_VLEK,
    SNP_REPORT_LAYOUT,
    SNP_REPORT_SIZE,
    parse_snp_report,
    snp_measurements_of,
)

#: MEASUREMENT of coco-trustee/snp/test-report.bin.
TEST_REPORT_MEASUREMENT = (
    "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c"
    "23500644e0e692e6be917f9050d3d38c"
)


def _read(vectors_dir: Path, name: str) -> bytes:
    return (vectors_dir / name).read_bytes()


def test_layout_covers_the_whole_report() -> None:
    assert SNP_REPORT_SIZE == 1184
    assert SNP_REPORT_LAYOUT.total == SNP_REPORT_SIZE
    # Offsets from the ABI spec's table, spot-checked.
    assert SNP_REPORT_LAYOUT.field("measurement").offset == 0x90
    assert SNP_REPORT_LAYOUT.field("host_data").offset == 0xC0
    assert SNP_REPORT_LAYOUT.field("chip_id").offset == 0x1A0
    assert SNP_REPORT_LAYOUT.field("signature").offset == 0x2A0


def test_real_vcek_report(vectors_dir: Path) -> None:
    report = parse_snp_report(_read(vectors_dir, "coco-trustee/snp/test-report.bin"))
    assert report.version == 2
    assert report.measurement.hex() == TEST_REPORT_MEASUREMENT
    assert report.vmpl == 0
    assert report.signing_key == SIGNING_KEY_VCEK
    assert not report.is_debug
    values = snp_measurements_of(report)
    assert values["measurement"] == TEST_REPORT_MEASUREMENT
    assert values["policy"] == struct.pack("<Q", report.policy).hex()
    assert values["vmpl"] == "0"
    assert values["signing_key"] == "0"


def test_real_vlek_report(vectors_dir: Path) -> None:
    report = parse_snp_report(_read(vectors_dir, "coco-trustee/snp/test-vlek-report.bin"))
    assert report.version == 3
    assert report.signing_key == SIGNING_KEY_VLEK
    assert report.vmpl == 1


def test_real_debug_report(vectors_dir: Path) -> None:
    assert parse_snp_report(_read(vectors_dir, "google-go-sev-guest/attestation.bin")).is_debug


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (0x00, "<I", 1, "version 1"),
        (0x00, "<I", 6, "version 6"),
        (0x48, "<I", 2 << 2, "reserved signing key"),
    ],
)
def test_bad_reports_are_refused(
    vectors_dir: Path, offset: int, fmt: str, value: int, message: str
) -> None:
    report = bytearray(_read(vectors_dir, "coco-trustee/snp/test-report.bin"))
    struct.pack_into(fmt, report, offset, value)
    with pytest.raises(QuoteFormatError, match=message):
        parse_snp_report(bytes(report))


@pytest.mark.parametrize("size", [0, SNP_REPORT_SIZE - 1, SNP_REPORT_SIZE + 1])
def test_wrong_sizes_are_refused(size: int) -> None:
    with pytest.raises(QuoteFormatError, match="must be 1184 bytes"):
        parse_snp_report(bytes(size))


@given(st.binary(min_size=SNP_REPORT_SIZE, max_size=SNP_REPORT_SIZE))
def test_any_report_raises_only_the_typed_error(data: bytes) -> None:
    with contextlib.suppress(QuoteFormatError):
        parse_snp_report(data)
