"""Intel TCB info (v2 SGX, v3 SGX and TDX), parsed from the exact bytes Intel signed.

Field names follow Intel's PCS API v4 "TCB Info" JSON. Levels are kept in Intel QVL's
canonical order (highest SGX components first, then PCESVN, then TDX components), not the
order of the JSON, so matching never depends on how a server happened to list them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from veil.attestation._isv_svn_levels import IsvSvnTcbLevel, read_isv_svn_levels
from veil.attestation._json_fields import (
    MAX_ADVISORY_IDS,
    MAX_TCB_LEVELS,
    Fields,
    load_object,
)
from veil.attestation.errors import CollateralFormatError
from veil.attestation.result import TcbStatus

__all__ = [
    "TCB_INFO_ID_SGX",
    "TCB_INFO_ID_TDX",
    "TcbInfo",
    "TcbLevel",
    "TdxModule",
    "TdxModuleIdentity",
]

TCB_INFO_ID_SGX = "SGX"
TCB_INFO_ID_TDX = "TDX"
_COMPONENTS = 16
_MAX_MODULE_IDENTITIES = 64
_SVN_MAX = 0xFF
_PCESVN_MAX = 0xFFFF
_U32_MAX = 0xFFFF_FFFF


@dataclass(frozen=True, kw_only=True)
class TcbLevel:
    """One TCB level: the minimum SVNs it covers and the status a platform at or above has."""

    sgx_components: bytes
    pce_svn: int
    #: TDX TCB info only: minimum TEE_TCB_SVN components.
    tdx_components: bytes | None
    tcb_date: datetime
    status: TcbStatus
    advisory_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class TdxModule:
    """Expected signer and SEAM attributes of the TDX module (``tdxModule``)."""

    mrsigner: bytes
    attributes: bytes
    attributes_mask: bytes


@dataclass(frozen=True, kw_only=True)
class TdxModuleIdentity:
    """One ``tdxModuleIdentities`` entry, e.g. ``TDX_01`` for TEE_TCB_SVN[1] = 1."""

    id: str
    mrsigner: bytes
    attributes: bytes
    attributes_mask: bytes
    #: Highest ISVSVN first.
    tcb_levels: tuple[IsvSvnTcbLevel, ...]


@dataclass(frozen=True, kw_only=True)
class TcbInfo:
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    fmspc: bytes
    pce_id: bytes
    tcb_type: int
    tcb_evaluation_data_number: int
    tdx_module: TdxModule | None
    tdx_module_identities: tuple[TdxModuleIdentity, ...]
    #: In Intel QVL's canonical order (see the module docstring).
    tcb_levels: tuple[TcbLevel, ...]
    #: The exact signed bytes this was parsed from.
    raw: bytes

    @property
    def is_tdx(self) -> bool:
        return self.id == TCB_INFO_ID_TDX

    @classmethod
    def from_json(cls, data: bytes, *, duplicate_keys_checked: bool = False) -> TcbInfo:
        """Parse the signed ``tcbInfo`` object; raises only CollateralFormatError.

        ``duplicate_keys_checked``: see ``_json_fields.load_object`` (``Collateral`` bytes).
        """
        fields = load_object(data, "tcbInfo", duplicate_keys_checked=duplicate_keys_checked)
        version = fields.int_("version", maximum=_U32_MAX)
        if version == 2:
            # v2 predates TDX and has no "id"; if one is present it must say SGX.
            tcb_id = fields.str_("id") if "id" in fields else TCB_INFO_ID_SGX
            if tcb_id != TCB_INFO_ID_SGX:
                raise CollateralFormatError("tcbInfo: version 2 is defined for SGX only")
        elif version == 3:
            tcb_id = fields.str_("id")
            if tcb_id not in (TCB_INFO_ID_SGX, TCB_INFO_ID_TDX):
                raise CollateralFormatError(f"tcbInfo: unknown id {tcb_id!r}")
        else:
            raise CollateralFormatError(f"tcbInfo: unsupported version {version} (expected 2, 3)")
        tcb_type = fields.int_("tcbType", maximum=_U32_MAX)
        if tcb_type != 0:
            # Type 0 is the only one Intel defines: components compared one by one.
            raise CollateralFormatError(f"tcbInfo: unsupported tcbType {tcb_type}")
        is_tdx = tcb_id == TCB_INFO_ID_TDX

        levels = [
            _level(item, version=version, is_tdx=is_tdx)
            for item in fields.objects("tcbLevels", maximum=MAX_TCB_LEVELS)
        ]
        if not levels:
            raise CollateralFormatError("tcbInfo: no tcbLevels")
        levels.sort(
            key=lambda level: (level.sgx_components, level.pce_svn, level.tdx_components or b""),
            reverse=True,
        )
        tdx_module = None
        identities: tuple[TdxModuleIdentity, ...] = ()
        if is_tdx:
            module = fields.object_("tdxModule")
            tdx_module = TdxModule(
                mrsigner=module.hex_("mrsigner", size=48),
                attributes=module.hex_("attributes", size=8),
                attributes_mask=module.hex_("attributesMask", size=8),
            )
            identities = tuple(
                _module_identity(item)
                for item in fields.objects(
                    "tdxModuleIdentities", maximum=_MAX_MODULE_IDENTITIES, default_empty=True
                )
            )
        return cls(
            id=tcb_id,
            version=version,
            issue_date=fields.instant("issueDate"),
            next_update=fields.instant("nextUpdate"),
            fmspc=fields.hex_("fmspc", size=6),
            pce_id=fields.hex_("pceId", size=2),
            tcb_type=tcb_type,
            tcb_evaluation_data_number=fields.int_("tcbEvaluationDataNumber", maximum=_U32_MAX),
            tdx_module=tdx_module,
            tdx_module_identities=identities,
            tcb_levels=tuple(levels),
            raw=bytes(data),
        )


def _level(item: Fields, *, version: int, is_tdx: bool) -> TcbLevel:
    tcb = item.object_("tcb")
    if version == 2:
        sgx = bytes(
            tcb.int_(f"sgxtcbcomp{index:02d}svn", maximum=_SVN_MAX)
            for index in range(1, _COMPONENTS + 1)
        )
    else:
        sgx = tcb.svns("sgxtcbcomponents", count=_COMPONENTS)
    tdx = tcb.svns("tdxtcbcomponents", count=_COMPONENTS) if is_tdx else None
    return TcbLevel(
        sgx_components=sgx,
        pce_svn=tcb.int_("pcesvn", maximum=_PCESVN_MAX),
        tdx_components=tdx,
        tcb_date=item.instant("tcbDate"),
        status=item.status("tcbStatus"),
        advisory_ids=item.strings("advisoryIDs", maximum=MAX_ADVISORY_IDS),
    )


def _module_identity(item: Fields) -> TdxModuleIdentity:
    levels = read_isv_svn_levels(
        item.objects("tcbLevels", maximum=MAX_TCB_LEVELS),
        max_svn=_SVN_MAX,
        of="TDX module identity",
    )
    return TdxModuleIdentity(
        id=item.str_("id"),
        mrsigner=item.hex_("mrsigner", size=48),
        attributes=item.hex_("attributes", size=8),
        attributes_mask=item.hex_("attributesMask", size=8),
        tcb_levels=levels,
    )
