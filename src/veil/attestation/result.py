"""The verified outcome of checking one quote, shared by every TEE and by the policy layer."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

__all__ = ["TcbStatus", "Tee", "VerifiedQuote"]


class Tee(enum.StrEnum):
    """Which kind of TEE produced a quote. ``SIMULATED`` is software and never trustworthy."""

    SGX = "sgx"
    TDX = "tdx"
    SEV_SNP = "sev-snp"
    SIMULATED = "simulated"


class TcbStatus(enum.StrEnum):
    """TCB status of a platform, spelled exactly as in Intel's TCB Info (DCAP) JSON."""

    UP_TO_DATE = "UpToDate"
    SW_HARDENING_NEEDED = "SWHardeningNeeded"
    CONFIGURATION_NEEDED = "ConfigurationNeeded"
    CONFIGURATION_AND_SW_HARDENING_NEEDED = "ConfigurationAndSWHardeningNeeded"
    OUT_OF_DATE = "OutOfDate"
    OUT_OF_DATE_CONFIGURATION_NEEDED = "OutOfDateConfigurationNeeded"
    REVOKED = "Revoked"


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True)
class VerifiedQuote:
    """A quote whose signatures, certificate chain and collateral all verified at ``verified_at``.

    It says nothing yet about *whether the measured code is acceptable*: that is the policy's job
    (``veil.attestation.policy``), which also refuses debug and simulated enclaves by default.

    ``measurements`` uses the field names of Intel's specs in lower case with hex values
    (``mr_enclave``, ``mr_signer``, ``isv_prod_id``, ``isv_svn``, ``report_data``, ``mr_td``,
    ``rtmr0``…``rtmr3``, ``mr_config_id``, ``td_attributes``, ``xfam``…; for the simulated TEE
    ``measurement``).
    """

    tee: Tee
    #: Quote format version (SGX 3, TDX 4 or 5; simulated 1).
    version: int
    tcb_status: TcbStatus
    advisory_ids: tuple[str, ...] = ()
    measurements: Mapping[str, str] = field(default_factory=dict)
    #: The 64 bytes the enclave put in its report; binds keys and nonces to the quote.
    report_data: bytes
    #: True when the enclave runs in debug mode (memory readable by the host).
    debug: bool
    #: Platform family identifier (Intel FMSPC, hex upper-case); ``None`` for simulated.
    fmspc: str | None = None
    #: Set only when an explicitly insecure option let expired collateral through.
    collateral_expired: bool = False
    #: The instant the verification was evaluated at (the ``now`` passed in).
    verified_at: datetime

    def __post_init__(self) -> None:
        if len(self.report_data) != 64:
            raise ValueError("report_data must be 64 bytes")
        object.__setattr__(self, "measurements", _frozen(self.measurements))
        object.__setattr__(self, "advisory_ids", tuple(self.advisory_ids))

    def to_json(self) -> dict[str, object]:
        """The JSON form used by ``veil attest verify --json`` (without ``verified``/``error``)."""
        return {
            "tee": self.tee.value,
            "version": self.version,
            "tcb_status": self.tcb_status.value,
            "advisory_ids": list(self.advisory_ids),
            "measurements": dict(self.measurements),
            "debug": self.debug,
            "fmspc": self.fmspc,
            "collateral_expired": self.collateral_expired,
            "verified_at": self.verified_at.isoformat(),
        }
