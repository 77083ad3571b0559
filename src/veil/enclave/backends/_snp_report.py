"""The few SEV-SNP attestation report fields the configfs-tsm backend reads (no verification).

Layout: AMD SEV Secure Nested Paging Firmware ABI Specification (pub. 56860), table
"ATTESTATION_REPORT Structure". Only the leading identity fields are decoded; the signature
and certificates are the verifier's business (``veil.attestation``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from veil.attestation.errors import QuoteFormatError

__all__ = ["SNP_REPORT_HEAD_FIELDS", "SNP_REPORT_SIZE", "SnpReportHead", "parse_snp_report_head"]

#: Every SNP attestation report (versions 2-5) is exactly 0x4A0 bytes.
SNP_REPORT_SIZE: Final = 0x4A0
_MIN_VERSION: Final = 2
_MAX_VERSION: Final = 5

#: (name, offset, struct format) for bytes 0x000-0x17F of the report.
SNP_REPORT_HEAD_FIELDS: Final[tuple[tuple[str, int, str], ...]] = (
    ("version", 0x000, "<I"),
    ("guest_svn", 0x004, "<I"),
    ("policy", 0x008, "<Q"),
    ("family_id", 0x010, "<16s"),
    ("image_id", 0x020, "<16s"),
    ("vmpl", 0x030, "<I"),
    ("signature_algo", 0x034, "<I"),
    ("current_tcb", 0x038, "<8s"),
    ("platform_info", 0x040, "<Q"),
    ("flags", 0x048, "<I"),
    ("reserved0", 0x04C, "<I"),
    ("report_data", 0x050, "<64s"),
    ("measurement", 0x090, "<48s"),
    ("host_data", 0x0C0, "<32s"),
    ("id_key_digest", 0x0E0, "<48s"),
    ("author_key_digest", 0x110, "<48s"),
    ("report_id", 0x140, "<32s"),
    ("report_id_ma", 0x160, "<32s"),
)
_HEAD_STRUCT: Final = struct.Struct("<" + "".join(fmt[1:] for _, _, fmt in SNP_REPORT_HEAD_FIELDS))


@dataclass(frozen=True)
class SnpReportHead:
    version: int
    policy: int
    vmpl: int
    report_data: bytes
    measurement: bytes
    host_data: bytes
    family_id: bytes
    image_id: bytes
    id_key_digest: bytes
    author_key_digest: bytes

    def identity_values(self) -> dict[str, str]:
        """The launch identity by name, hex (``policy`` as its 8 little-endian bytes)."""
        return {
            "measurement": self.measurement.hex(),
            "host_data": self.host_data.hex(),
            "policy": struct.pack("<Q", self.policy).hex(),
            "family_id": self.family_id.hex(),
            "image_id": self.image_id.hex(),
            "id_key_digest": self.id_key_digest.hex(),
            "author_key_digest": self.author_key_digest.hex(),
            "vmpl": str(self.vmpl),
        }


def parse_snp_report_head(data: bytes) -> SnpReportHead:
    """Decode the identity fields of a raw SNP report; raises only ``QuoteFormatError``."""
    if len(data) != SNP_REPORT_SIZE:
        raise QuoteFormatError(f"SEV-SNP report must be {SNP_REPORT_SIZE} bytes, got {len(data)}")
    fields = dict(
        zip(
            (name for name, _, _ in SNP_REPORT_HEAD_FIELDS),
            _HEAD_STRUCT.unpack_from(data, 0),
            strict=True,
        )
    )
    version = fields["version"]
    if not isinstance(version, int) or not _MIN_VERSION <= version <= _MAX_VERSION:
        raise QuoteFormatError(f"unsupported SEV-SNP report version {version}")

    def raw(name: str) -> bytes:
        value = fields[name]
        if not isinstance(value, bytes):
            raise TypeError(name)
        return value

    def num(name: str) -> int:
        value = fields[name]
        if not isinstance(value, int):
            raise TypeError(name)
        return value

    return SnpReportHead(
        version=version,
        policy=num("policy"),
        vmpl=num("vmpl"),
        report_data=raw("report_data"),
        measurement=raw("measurement"),
        host_data=raw("host_data"),
        family_id=raw("family_id"),
        image_id=raw("image_id"),
        id_key_digest=raw("id_key_digest"),
        author_key_digest=raw("author_key_digest"),
    )
