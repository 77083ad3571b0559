"""TCB evaluation: QE identity match, platform and TDX module TCB levels, status convergence.

The rules are Intel QVL's (``TcbLevelCheck.cpp``, ``TdxModuleCheck.cpp``, QE identity checks)
as dcap-qvl 0.7.0 implements them; each failure raises a QuoteVerificationError naming its
step (8: QE identity, 9: TCB levels, 10: status merge).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from veil.attestation._isv_svn_levels import level_for_isv_svn
from veil.attestation._reports import EnclaveReport, TdReport
from veil.attestation.errors import QuoteVerificationError
from veil.attestation.qe_identity import QeIdentity
from veil.attestation.result import TcbStatus
from veil.attestation.tcb_info import TcbInfo, TcbLevel

__all__ = [
    "TcbVerdict",
    "check_qe_identity",
    "check_tdx_module",
    "converge",
    "match_tcb_level",
    "merge_statuses",
]


@dataclass(frozen=True)
class TcbVerdict:
    """A TCB status with the advisories that explain it."""

    status: TcbStatus
    advisory_ids: tuple[str, ...] = ()


def _masked_equal(actual: bytes, expected: bytes, mask: bytes) -> bool:
    return all((a & m) == (e & m) for a, e, m in zip(actual, expected, mask, strict=True))


def check_qe_identity(identity: QeIdentity, qe_report: EnclaveReport) -> TcbVerdict:
    """Step 8: the QE report is a genuine QE of this identity; returns the QE's TCB status."""
    if qe_report.mr_signer != identity.mrsigner:
        raise QuoteVerificationError("8.1", "QE MRSIGNER does not match the QE identity")
    if qe_report.isv_prod_id != identity.isv_prod_id:
        raise QuoteVerificationError(
            "8.2",
            f"QE ISVPRODID {qe_report.isv_prod_id} does not match the QE identity's "
            f"{identity.isv_prod_id}",
        )
    misc_select = struct.pack("<I", qe_report.misc_select)
    if not _masked_equal(misc_select, identity.miscselect, identity.miscselect_mask):
        raise QuoteVerificationError("8.3", "QE MISCSELECT does not match the QE identity")
    if not _masked_equal(qe_report.attributes, identity.attributes, identity.attributes_mask):
        raise QuoteVerificationError("8.4", "QE ATTRIBUTES do not match the QE identity")
    level = level_for_isv_svn(identity.tcb_levels, qe_report.isv_svn)
    if level is not None:
        return TcbVerdict(level.status, level.advisory_ids)
    raise QuoteVerificationError(
        "8.5", f"QE ISVSVN {qe_report.isv_svn} is below every TCB level of the QE identity"
    )


def _tdx_components_at_least(tee_tcb_svn: bytes, level: TcbLevel) -> bool:
    minimum = level.tdx_components
    if minimum is None:
        return False
    # Intel QVL isTdxTcbHigherOrEqual: when TEE_TCB_SVN[1] (the module's major version) is
    # set, bytes 0-1 describe the TDX module and are judged by tdxModuleIdentities instead.
    start = 2 if tee_tcb_svn[1] > 0 else 0
    return all(tee_tcb_svn[i] >= minimum[i] for i in range(start, len(minimum)))


def match_tcb_level(
    tcb_info: TcbInfo,
    *,
    sgx_components: bytes,
    pce_svn: int,
    tee_tcb_svn: bytes | None,
) -> TcbLevel:
    """Step 9.2: the first level (in canonical order) the platform is at or above.

    SGX: all 16 PCK TCB components ≥ and PCESVN ≥. TDX additionally: TEE_TCB_SVN ≥ the
    level's ``tdxtcbcomponents``.
    """
    for level in tcb_info.tcb_levels:
        if pce_svn < level.pce_svn:
            continue
        if any(a < b for a, b in zip(sgx_components, level.sgx_components, strict=True)):
            continue
        if tee_tcb_svn is not None and not _tdx_components_at_least(tee_tcb_svn, level):
            continue
        return level
    raise QuoteVerificationError("9.2", "no matching TCB level")


def check_tdx_module(tcb_info: TcbInfo, report: TdReport) -> TcbVerdict | None:
    """Steps 9.1 and 9.3: the TDX module's signer and attributes, and its own TCB status.

    TEE_TCB_SVN[0] is the module's ISVSVN and [1] its major version. Version 0 is judged by
    ``tdxModule`` alone (no status of its own); version *n* > 0 by ``tdxModuleIdentities``
    entry ``TDX_0n``, which must be there.
    """
    base = tcb_info.tdx_module
    if base is None:
        raise QuoteVerificationError("9.1", "TDX TCB info has no tdxModule")
    isv_svn, version = report.tee_tcb_svn[0], report.tee_tcb_svn[1]
    mrsigner, attributes, mask = base.mrsigner, base.attributes, base.attributes_mask
    identity = None
    if version > 0:
        wanted = f"TDX_{version:02X}"
        if not tcb_info.tdx_module_identities:
            # The platform levels skip TEE_TCB_SVN[0:2] for such a module (match_tcb_level),
            # so without its identity the module's SVN would go unchecked: fail closed.
            raise QuoteVerificationError(
                "9.1",
                f"TDX TCB info has no tdxModuleIdentities, and TDX module version {version} "
                f"needs its identity {wanted}",
            )
        identity = next((i for i in tcb_info.tdx_module_identities if i.id.upper() == wanted), None)
        if identity is None:
            raise QuoteVerificationError("9.1", f"TCB info has no TDX module identity {wanted}")
        mrsigner, attributes, mask = (
            identity.mrsigner,
            identity.attributes,
            identity.attributes_mask,
        )
    if report.mr_signer_seam != mrsigner:
        raise QuoteVerificationError("9.1", "TDX module MRSIGNER does not match the TCB info")
    if not _masked_equal(report.seam_attributes, attributes, mask):
        raise QuoteVerificationError("9.1", "TDX module attributes do not match the TCB info")
    if any(actual & ~m & 0xFF for actual, m in zip(report.seam_attributes, mask, strict=True)):
        raise QuoteVerificationError("9.1", "TDX module attributes set bits outside the mask")
    if identity is None:
        return None
    level = level_for_isv_svn(identity.tcb_levels, isv_svn)
    if level is not None:
        return TcbVerdict(level.status, level.advisory_ids)
    raise QuoteVerificationError(
        "9.3", f"TDX module ISVSVN {isv_svn} is below every level of {identity.id}"
    )


def converge(platform: TcbStatus, component: TcbStatus) -> TcbStatus:
    """Intel QVL convergeTcbStatusWith{Qe,TdxModule}: only an OutOfDate or Revoked component
    changes the platform's status."""
    if component is TcbStatus.REVOKED:
        return TcbStatus.REVOKED
    if component is TcbStatus.OUT_OF_DATE:
        if platform in (TcbStatus.UP_TO_DATE, TcbStatus.SW_HARDENING_NEEDED):
            return TcbStatus.OUT_OF_DATE
        if platform in (
            TcbStatus.CONFIGURATION_NEEDED,
            TcbStatus.CONFIGURATION_AND_SW_HARDENING_NEEDED,
        ):
            return TcbStatus.OUT_OF_DATE_CONFIGURATION_NEEDED
    return platform


def merge_statuses(platform: TcbLevel, module: TcbVerdict | None, qe: TcbVerdict) -> TcbVerdict:
    """Step 10: converge platform, TDX module and QE statuses; advisories are the union in
    that order. A Revoked result is an error, not a status a policy could accept."""
    status = platform.status
    advisories = list(platform.advisory_ids)
    for component in (module, qe):
        if component is None:
            continue
        status = converge(status, component.status)
        advisories.extend(a for a in component.advisory_ids if a not in advisories)
    if status is TcbStatus.REVOKED:
        raise QuoteVerificationError("10.1", "the TCB status is Revoked")
    return TcbVerdict(status, tuple(dict.fromkeys(advisories)))
