"""The report bodies a quote carries: the SGX enclave report and the TDX TD reports."""

from __future__ import annotations

from dataclasses import dataclass, field

from veil._layout import Layout
from veil.attestation.errors import QuoteFormatError

__all__ = [
    "ENCLAVE_REPORT_LAYOUT",
    "TD_REPORT_10_LAYOUT",
    "TD_REPORT_15_EX_LAYOUT",
    "TD_REPORT_15_LAYOUT",
    "EnclaveReport",
    "TdReport",
    "TdReportExtension",
]

# sgx_report_body_t, Intel SGX ECDSA Quote Library API (DCAP) §A.4, "Enclave Report Body".
ENCLAVE_REPORT_LAYOUT = Layout.of(
    "EnclaveReport",
    384,
    (
        ("cpu_svn", 0, "<16s"),
        ("misc_select", 16, "<I"),
        ("reserved1", 20, "<12s"),
        ("isv_ext_prod_id", 32, "<16s"),
        ("attributes", 48, "<16s"),
        ("mr_enclave", 64, "<32s"),
        ("reserved2", 96, "<32s"),
        ("mr_signer", 128, "<32s"),
        ("reserved3", 160, "<32s"),
        ("config_id", 192, "<64s"),
        ("isv_prod_id", 256, "<H"),
        ("isv_svn", 258, "<H"),
        ("config_svn", 260, "<H"),
        ("reserved4", 262, "<42s"),
        ("isv_family_id", 304, "<16s"),
        ("report_data", 320, "<64s"),
    ),
)

_TD_REPORT_10_ROWS: tuple[tuple[str, int, str], ...] = (
    ("tee_tcb_svn", 0, "<16s"),
    ("mr_seam", 16, "<48s"),
    ("mr_signer_seam", 64, "<48s"),
    ("seam_attributes", 112, "<8s"),
    ("td_attributes", 120, "<8s"),
    ("xfam", 128, "<8s"),
    ("mr_td", 136, "<48s"),
    ("mr_config_id", 184, "<48s"),
    ("mr_owner", 232, "<48s"),
    ("mr_owner_config", 280, "<48s"),
    ("rtmr0", 328, "<48s"),
    ("rtmr1", 376, "<48s"),
    ("rtmr2", 424, "<48s"),
    ("rtmr3", 472, "<48s"),
    ("report_data", 520, "<64s"),
)
_TD_REPORT_15_ROWS = (
    *_TD_REPORT_10_ROWS,
    ("tee_tcb_svn2", 584, "<16s"),
    ("mr_service_td", 600, "<48s"),
)
# sgx_report2_body_v1_5_ex_t (Intel sgx_quote_5.h, as decoded by dcap-qvl 0.7.0, quote body
# type 4): the TD report 1.5 followed by TD-identity and service-TD binding fields.
_TD_REPORT_15_EX_ROWS = (
    *_TD_REPORT_15_ROWS,
    ("vm_id", 648, "<B"),
    ("td_id", 649, "<32s"),
    ("dev_info", 681, "<48s"),
    ("init_service_td_hash", 729, "<48s"),
    ("init_service_td_attributes", 777, "<8s"),
    ("init_cpu_svn", 785, "<16s"),
    ("init_tee_tcb_svn", 801, "<16s"),
    ("init_tee_fmspc", 817, "<12s"),
    ("cur_service_td_hash", 829, "<48s"),
    ("cur_service_td_attributes", 877, "<8s"),
)

# TDX DCAP Quote Generation Library spec, "TD Quote Body" (1.0: 584 B, 1.5: 648 B).
TD_REPORT_10_LAYOUT = Layout.of("TdReport10", 584, _TD_REPORT_10_ROWS)
TD_REPORT_15_LAYOUT = Layout.of("TdReport15", 648, _TD_REPORT_15_ROWS)
TD_REPORT_15_EX_LAYOUT = Layout.of("TdReport15Ex", 885, _TD_REPORT_15_EX_ROWS)

# ATTRIBUTES.FLAGS bit 1 (DEBUG) of an SGX enclave; TD_ATTRIBUTES bit 0 (TUD.DEBUG) of a TD.
_SGX_FLAGS_DEBUG = 0x02
_TD_ATTRIBUTES_DEBUG = 0x01


@dataclass(frozen=True, kw_only=True)
class EnclaveReport:
    """An SGX enclave report body (384 bytes): the application enclave's or the QE's."""

    cpu_svn: bytes
    misc_select: int
    isv_ext_prod_id: bytes
    attributes: bytes
    mr_enclave: bytes
    mr_signer: bytes
    config_id: bytes
    isv_prod_id: int
    isv_svn: int
    config_svn: int
    isv_family_id: bytes
    report_data: bytes
    raw: bytes = field(repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> EnclaveReport:
        if len(data) != ENCLAVE_REPORT_LAYOUT.size:
            raise QuoteFormatError(
                f"SGX report body must be {ENCLAVE_REPORT_LAYOUT.size} bytes, got {len(data)}"
            )
        v = ENCLAVE_REPORT_LAYOUT.unpack(data)
        return cls(
            cpu_svn=v.bytes_("cpu_svn"),
            misc_select=v.int_("misc_select"),
            isv_ext_prod_id=v.bytes_("isv_ext_prod_id"),
            attributes=v.bytes_("attributes"),
            mr_enclave=v.bytes_("mr_enclave"),
            mr_signer=v.bytes_("mr_signer"),
            config_id=v.bytes_("config_id"),
            isv_prod_id=v.int_("isv_prod_id"),
            isv_svn=v.int_("isv_svn"),
            config_svn=v.int_("config_svn"),
            isv_family_id=v.bytes_("isv_family_id"),
            report_data=v.bytes_("report_data"),
            raw=bytes(data),
        )

    @property
    def is_debug(self) -> bool:
        """True when the enclave was launched in debug mode (its memory is readable)."""
        return bool(self.attributes[0] & _SGX_FLAGS_DEBUG)


@dataclass(frozen=True, kw_only=True)
class TdReportExtension:
    """The fields TD report 1.5-ex (quote body type 4) adds after the 648-byte TD report 1.5."""

    vm_id: int
    td_id: bytes
    dev_info: bytes
    init_service_td_hash: bytes
    init_service_td_attributes: bytes
    init_cpu_svn: bytes
    init_tee_tcb_svn: bytes
    init_tee_fmspc: bytes
    cur_service_td_hash: bytes
    cur_service_td_attributes: bytes


@dataclass(frozen=True, kw_only=True)
class TdReport:
    """A TDX TD report body: 1.0 (584 B), 1.5 (648 B) or 1.5-ex (885 B)."""

    tee_tcb_svn: bytes
    mr_seam: bytes
    mr_signer_seam: bytes
    seam_attributes: bytes
    td_attributes: bytes
    xfam: bytes
    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmrs: tuple[bytes, bytes, bytes, bytes]
    report_data: bytes
    #: TD report 1.5 and later only.
    tee_tcb_svn2: bytes | None = None
    mr_service_td: bytes | None = None
    #: TD report 1.5-ex only.
    extension: TdReportExtension | None = None
    raw: bytes = field(repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> TdReport:
        """Parse a TD report; its length selects 1.0, 1.5 or 1.5-ex."""
        layout = _TD_LAYOUTS_BY_SIZE.get(len(data))
        if layout is None:
            raise QuoteFormatError(f"a TD report body cannot be {len(data)} bytes")
        v = layout.unpack(data)
        extension = None
        if layout is TD_REPORT_15_EX_LAYOUT:
            extension = TdReportExtension(
                vm_id=v.int_("vm_id"),
                td_id=v.bytes_("td_id"),
                dev_info=v.bytes_("dev_info"),
                init_service_td_hash=v.bytes_("init_service_td_hash"),
                init_service_td_attributes=v.bytes_("init_service_td_attributes"),
                init_cpu_svn=v.bytes_("init_cpu_svn"),
                init_tee_tcb_svn=v.bytes_("init_tee_tcb_svn"),
                init_tee_fmspc=v.bytes_("init_tee_fmspc"),
                cur_service_td_hash=v.bytes_("cur_service_td_hash"),
                cur_service_td_attributes=v.bytes_("cur_service_td_attributes"),
            )
        is_15 = layout is not TD_REPORT_10_LAYOUT
        return cls(
            tee_tcb_svn=v.bytes_("tee_tcb_svn"),
            mr_seam=v.bytes_("mr_seam"),
            mr_signer_seam=v.bytes_("mr_signer_seam"),
            seam_attributes=v.bytes_("seam_attributes"),
            td_attributes=v.bytes_("td_attributes"),
            xfam=v.bytes_("xfam"),
            mr_td=v.bytes_("mr_td"),
            mr_config_id=v.bytes_("mr_config_id"),
            mr_owner=v.bytes_("mr_owner"),
            mr_owner_config=v.bytes_("mr_owner_config"),
            rtmrs=(v.bytes_("rtmr0"), v.bytes_("rtmr1"), v.bytes_("rtmr2"), v.bytes_("rtmr3")),
            report_data=v.bytes_("report_data"),
            tee_tcb_svn2=v.bytes_("tee_tcb_svn2") if is_15 else None,
            mr_service_td=v.bytes_("mr_service_td") if is_15 else None,
            extension=extension,
            raw=bytes(data),
        )

    @property
    def is_debug(self) -> bool:
        """True when the TD runs in debug mode (the host can read its state and memory)."""
        return bool(self.td_attributes[0] & _TD_ATTRIBUTES_DEBUG)


_TD_LAYOUTS_BY_SIZE = {
    layout.size: layout
    for layout in (TD_REPORT_10_LAYOUT, TD_REPORT_15_LAYOUT, TD_REPORT_15_EX_LAYOUT)
}
