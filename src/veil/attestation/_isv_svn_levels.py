"""TCB levels keyed by a single ISVSVN, as in QE identities and TDX module identities."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from veil.attestation._json_fields import MAX_ADVISORY_IDS, Fields
from veil.attestation.result import TcbStatus

__all__ = ["ISV_SVN_LEVEL_STATUSES", "IsvSvnTcbLevel", "level_for_isv_svn", "read_isv_svn_levels"]

#: The statuses Intel defines for these levels. The platform-only ones (SWHardeningNeeded,
#: Configuration…) are ignored when statuses converge, so a level carrying one would pass an
#: outdated QE or TDX module as current: refused instead (as Intel QVL and dcap-qvl do).
ISV_SVN_LEVEL_STATUSES = (TcbStatus.UP_TO_DATE, TcbStatus.OUT_OF_DATE, TcbStatus.REVOKED)


@dataclass(frozen=True, kw_only=True)
class IsvSvnTcbLevel:
    isv_svn: int
    tcb_date: datetime
    status: TcbStatus
    advisory_ids: tuple[str, ...]


def read_isv_svn_levels(
    items: Iterable[Fields], *, max_svn: int, of: str
) -> tuple[IsvSvnTcbLevel, ...]:
    """The ``tcbLevels`` entries ``{"tcb": {"isvsvn": N}, "tcbDate", "tcbStatus",
    "advisoryIDs"}`` of ``of`` (named in errors), highest ISVSVN first (the order matching
    relies on)."""
    levels = [
        IsvSvnTcbLevel(
            isv_svn=item.object_("tcb").int_("isvsvn", maximum=max_svn),
            tcb_date=item.instant("tcbDate"),
            status=item.status("tcbStatus", allowed=ISV_SVN_LEVEL_STATUSES, of=of),
            advisory_ids=item.strings("advisoryIDs", maximum=MAX_ADVISORY_IDS),
        )
        for item in items
    ]
    levels.sort(key=lambda level: level.isv_svn, reverse=True)
    return tuple(levels)


def level_for_isv_svn(levels: Sequence[IsvSvnTcbLevel], isv_svn: int) -> IsvSvnTcbLevel | None:
    """The first (highest) level that ``isv_svn`` reaches, or None when it is below them all."""
    for level in levels:
        if isv_svn >= level.isv_svn:
            return level
    return None
