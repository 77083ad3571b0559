"""AMD SEV-SNP attestation reports (versions 2-5) parsed into an immutable model; no checks."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from veil._layout import Layout
from veil.attestation.errors import QuoteFormatError

__all__ = [
    "GUEST_POLICY_DEBUG",
    "GUEST_POLICY_MIGRATE_MA",
    "SIGNING_KEY_NAMES",
    "SIGNING_KEY_NONE",
    "SIGNING_KEY_VCEK",
    "SIGNING_KEY_VLEK",
    "SNP_REPORT_LAYOUT",
    "SNP_REPORT_SIZE",
    "SnpReport",
    "parse_snp_report",
    "snp_measurements_of",
]

#: Every SNP attestation report (versions 2-5) is exactly 0x4A0 bytes.
SNP_REPORT_SIZE: Final = 0x4A0
_MIN_VERSION: Final = 2
_MAX_VERSION: Final = 5

# GUEST_POLICY bits (SEV-SNP Firmware ABI spec, pub. 56860, "Guest Policy").
#: Bit 18: a migration agent may be associated with the guest (it can export its memory).
GUEST_POLICY_MIGRATE_MA: Final = 1 << 18
#: Bit 19: the host may debug the guest (read and write its memory).
GUEST_POLICY_DEBUG: Final = 1 << 19

# SIGNING_KEY (bits 4:2 of the word at 0x48): which key signed the report.
SIGNING_KEY_VCEK: Final = 0
SIGNING_KEY_VLEK: Final = 1
SIGNING_KEY_NONE: Final = 7
#: Readable names of the SIGNING_KEY values; any other value is reserved and refused.
SIGNING_KEY_NAMES: Final = {
    SIGNING_KEY_VCEK: "VCEK",
    SIGNING_KEY_VLEK: "VLEK",
    SIGNING_KEY_NONE: "none",
}
_SIGNING_KEY_SHIFT: Final = 2
_SIGNING_KEY_MASK: Final = 0b111

# ATTESTATION_REPORT structure, SEV-SNP Firmware ABI spec (pub. 56860, rev. 1.57), table 23.
# Fields added by later versions (CPUID_*, mitigation vectors) sit in ranges earlier versions
# keep reserved, so one table reads every version; veil decodes only what it checks.
SNP_REPORT_LAYOUT: Final = Layout.of(
    "SnpReport",
    SNP_REPORT_SIZE,
    (
        ("version", 0x000, "<I"),
        ("guest_svn", 0x004, "<I"),
        ("policy", 0x008, "<Q"),
        ("family_id", 0x010, "<16s"),
        ("image_id", 0x020, "<16s"),
        ("vmpl", 0x030, "<I"),
        ("signature_algo", 0x034, "<I"),
        ("current_tcb", 0x038, "<8s"),
        ("platform_info", 0x040, "<Q"),
        ("signer_info", 0x048, "<I"),
        ("reserved0", 0x04C, "<I"),
        ("report_data", 0x050, "<64s"),
        ("measurement", 0x090, "<48s"),
        ("host_data", 0x0C0, "<32s"),
        ("id_key_digest", 0x0E0, "<48s"),
        ("author_key_digest", 0x110, "<48s"),
        ("report_id", 0x140, "<32s"),
        ("report_id_ma", 0x160, "<32s"),
        ("reported_tcb", 0x180, "<8s"),
        ("cpuid", 0x188, "<3s"),
        ("reserved1", 0x18B, "<21s"),
        ("chip_id", 0x1A0, "<64s"),
        ("committed_tcb", 0x1E0, "<8s"),
        ("current_version", 0x1E8, "<4s"),
        ("committed_version", 0x1EC, "<4s"),
        ("launch_tcb", 0x1F0, "<8s"),
        ("reserved2", 0x1F8, "<168s"),
        ("signature", 0x2A0, "<512s"),
    ),
)


@dataclass(frozen=True, kw_only=True)
class SnpReport:
    """The identity fields of one SEV-SNP report. Build it with :func:`parse_snp_report`."""

    version: int
    guest_svn: int
    policy: int
    vmpl: int
    signing_key: int
    report_data: bytes
    measurement: bytes
    host_data: bytes
    family_id: bytes
    image_id: bytes
    id_key_digest: bytes
    author_key_digest: bytes
    chip_id: bytes
    raw: bytes

    @property
    def is_debug(self) -> bool:
        return bool(self.policy & GUEST_POLICY_DEBUG)


def parse_snp_report(data: bytes) -> SnpReport:
    """Decode a raw SNP report; raises only ``QuoteFormatError``."""
    if len(data) != SNP_REPORT_SIZE:
        raise QuoteFormatError(f"SEV-SNP report must be {SNP_REPORT_SIZE} bytes, got {len(data)}")
    fields = SNP_REPORT_LAYOUT.unpack(bytes(data))
    version = fields.int_("version")
    if not _MIN_VERSION <= version <= _MAX_VERSION:
        raise QuoteFormatError(f"unsupported SEV-SNP report version {version}")
    signing_key = (fields.int_("signer_info") >> _SIGNING_KEY_SHIFT) & _SIGNING_KEY_MASK
    if signing_key not in SIGNING_KEY_NAMES:
        raise QuoteFormatError(f"SEV-SNP report names a reserved signing key ({signing_key})")
    return SnpReport(
        version=version,
        guest_svn=fields.int_("guest_svn"),
        policy=fields.int_("policy"),
        vmpl=fields.int_("vmpl"),
        signing_key=signing_key,
        report_data=fields.bytes_("report_data"),
        measurement=fields.bytes_("measurement"),
        host_data=fields.bytes_("host_data"),
        family_id=fields.bytes_("family_id"),
        image_id=fields.bytes_("image_id"),
        id_key_digest=fields.bytes_("id_key_digest"),
        author_key_digest=fields.bytes_("author_key_digest"),
        chip_id=fields.bytes_("chip_id"),
        raw=bytes(data),
    )


def snp_measurements_of(report: SnpReport) -> dict[str, str]:
    """The identity fields by name, as ``VerifiedQuote.measurements`` carries them for SNP.

    Byte fields are lower-case hex; ``policy`` is the hex of its 8 little-endian bytes as in
    the report; ``vmpl``, ``guest_svn`` and ``signing_key`` (0 VCEK, 1 VLEK, 7 none) are
    decimal.
    """
    return {
        "measurement": report.measurement.hex(),
        "host_data": report.host_data.hex(),
        "policy": struct.pack("<Q", report.policy).hex(),
        "vmpl": str(report.vmpl),
        "signing_key": str(report.signing_key),
        "guest_svn": str(report.guest_svn),
        "family_id": report.family_id.hex(),
        "image_id": report.image_id.hex(),
        "id_key_digest": report.id_key_digest.hex(),
        "author_key_digest": report.author_key_digest.hex(),
        "report_data": report.report_data.hex(),
    }
