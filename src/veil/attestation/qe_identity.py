"""Intel QE identity (``enclaveIdentity`` v2: QE, TD_QE), parsed from the exact signed bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from veil.attestation._isv_svn_levels import IsvSvnTcbLevel, read_isv_svn_levels
from veil.attestation._json_fields import MAX_TCB_LEVELS, load_object
from veil.attestation.errors import CollateralFormatError

__all__ = ["QE_IDENTITY_ID_QE", "QE_IDENTITY_ID_TD_QE", "QeIdentity"]

QE_IDENTITY_ID_QE = "QE"
QE_IDENTITY_ID_TD_QE = "TD_QE"
_KNOWN_IDS = (QE_IDENTITY_ID_QE, QE_IDENTITY_ID_TD_QE, "QVE")
_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFF_FFFF


@dataclass(frozen=True, kw_only=True)
class QeIdentity:
    """What a genuine quoting enclave looks like, and the TCB status of each of its SVNs."""

    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    tcb_evaluation_data_number: int
    #: MISCSELECT and its mask as the 4 bytes appear in a report (little-endian).
    miscselect: bytes
    miscselect_mask: bytes
    attributes: bytes
    attributes_mask: bytes
    mrsigner: bytes
    isv_prod_id: int
    #: Highest ISVSVN first.
    tcb_levels: tuple[IsvSvnTcbLevel, ...]
    raw: bytes

    @classmethod
    def from_json(cls, data: bytes, *, duplicate_keys_checked: bool = False) -> QeIdentity:
        """Parse the signed ``enclaveIdentity`` object; raises only CollateralFormatError.

        ``duplicate_keys_checked``: see ``_json_fields.load_object`` (``Collateral`` bytes).
        """
        fields = load_object(data, "enclaveIdentity", duplicate_keys_checked=duplicate_keys_checked)
        identity_id = fields.str_("id")
        if identity_id not in _KNOWN_IDS:
            raise CollateralFormatError(f"enclaveIdentity: unknown id {identity_id!r}")
        version = fields.int_("version", maximum=_U32_MAX)
        if version != 2:
            raise CollateralFormatError(f"enclaveIdentity: unsupported version {version}")
        levels = read_isv_svn_levels(
            fields.objects("tcbLevels", maximum=MAX_TCB_LEVELS),
            max_svn=_U16_MAX,
            of="QE identity",
        )
        if not levels:
            raise CollateralFormatError("enclaveIdentity: no tcbLevels")
        return cls(
            id=identity_id,
            version=version,
            issue_date=fields.instant("issueDate"),
            next_update=fields.instant("nextUpdate"),
            tcb_evaluation_data_number=fields.int_("tcbEvaluationDataNumber", maximum=_U32_MAX),
            miscselect=fields.hex_("miscselect", size=4),
            miscselect_mask=fields.hex_("miscselectMask", size=4),
            attributes=fields.hex_("attributes", size=16),
            attributes_mask=fields.hex_("attributesMask", size=16),
            mrsigner=fields.hex_("mrsigner", size=32),
            isv_prod_id=fields.int_("isvprodid", maximum=_U16_MAX),
            tcb_levels=levels,
            raw=bytes(data),
        )
