"""Attestation policy: small composable rules applied to a verified quote, failing closed."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final, Protocol

from veil.attestation.errors import PolicyError
from veil.attestation.result import TcbStatus, Tee, VerifiedQuote

__all__ = [
    "AdvisoryIdsIn",
    "AllOf",
    "ExpectedIdentity",
    "IsvProdId",
    "MinIsvSvn",
    "MrConfigId",
    "MrEnclave",
    "MrServiceTd",
    "MrSigner",
    "MrTd",
    "NotDebug",
    "NotSimulated",
    "Policy",
    "Rtmr",
    "SimulatedMeasurement",
    "SnpGuest",
    "TcbStatusIn",
    "TdAttributes",
    "TeeIn",
    "default_policy",
]

_log = logging.getLogger(__name__)


class Policy(Protocol):
    """A rule over a verified quote: returns when satisfied, raises ``PolicyError`` otherwise."""

    def check(self, verified: VerifiedQuote) -> None: ...


class AllOf:
    """Every member must accept. With no members it refuses everything (fails closed)."""

    __slots__ = ("policies",)

    def __init__(self, *policies: Policy) -> None:
        self.policies: tuple[Policy, ...] = policies

    def check(self, verified: VerifiedQuote) -> None:
        if not self.policies:
            raise PolicyError("all_of", "empty policy accepts nothing (fails closed)")
        for policy in self.policies:
            policy.check(verified)

    def __repr__(self) -> str:
        return f"AllOf({', '.join(repr(p) for p in self.policies)})"


@dataclass(frozen=True)
class TeeIn:
    """The quote comes from one of ``tees``."""

    tees: frozenset[Tee]

    def check(self, verified: VerifiedQuote) -> None:
        if verified.tee not in self.tees:
            allowed = ", ".join(sorted(t.value for t in self.tees)) or "(none)"
            raise PolicyError("tee", f"quote is from {verified.tee.value}; allowed: {allowed}")


@dataclass(frozen=True)
class NotSimulated:
    """Simulated evidence is software only and proves nothing; refuse it."""

    def check(self, verified: VerifiedQuote) -> None:
        if verified.tee is Tee.SIMULATED:
            raise PolicyError(
                "simulated",
                "evidence is simulated (no TEE protects this enclave); "
                "refused unless allow_simulated_insecure",
            )


@dataclass(frozen=True)
class NotDebug:
    """A debug enclave's memory is readable by the host; refuse it."""

    def check(self, verified: VerifiedQuote) -> None:
        if verified.debug:
            raise PolicyError(
                "debug",
                f"{verified.tee.value} enclave runs in debug mode (debug=True); "
                "refused unless allow_debug_insecure",
            )


@dataclass(frozen=True)
class TcbStatusIn:
    """The platform's TCB status is one of ``allowed``. ``Revoked`` can never be allowed."""

    allowed: frozenset[TcbStatus]

    def __post_init__(self) -> None:
        if TcbStatus.REVOKED in self.allowed:
            raise ValueError("a Revoked TCB can never be allowed")

    def check(self, verified: VerifiedQuote) -> None:
        if verified.tcb_status not in self.allowed:
            allowed = ", ".join(sorted(s.value for s in self.allowed)) or "(none)"
            raise PolicyError(
                "tcb_status", f"TCB status is {verified.tcb_status.value}; allowed: {allowed}"
            )


@dataclass(frozen=True)
class AdvisoryIdsIn:
    """Every security advisory that applies to the platform is in ``allowed``."""

    allowed: frozenset[str]

    def check(self, verified: VerifiedQuote) -> None:
        extra = sorted(set(verified.advisory_ids) - self.allowed)
        if extra:
            raise PolicyError("advisory_ids", f"advisories not allowed: {', '.join(extra)}")


def _measurement(verified: VerifiedQuote, rule: str, tee: Tee, name: str) -> str:
    if verified.tee is not tee:
        raise PolicyError(rule, f"applies to {tee.value} quotes, got a {verified.tee.value} quote")
    value = verified.measurements.get(name)
    if value is None:
        raise PolicyError(rule, f"the verified quote carries no {name}")
    return value


@dataclass(frozen=True)
class _ExpectedBytes:
    """The measurement ``name`` of a ``tee`` quote equals ``value`` (compared in constant time)."""

    value: bytes
    tee: ClassVar[Tee]
    name: ClassVar[str]
    size: ClassVar[int]

    def __post_init__(self) -> None:
        if len(self.value) != self.size:
            raise ValueError(f"{self.name} is {self.size} bytes, got {len(self.value)}")

    def check(self, verified: VerifiedQuote) -> None:
        actual = _measurement(verified, self.name, self.tee, self.name)
        if not hmac.compare_digest(actual.lower(), self.value.hex()):
            raise PolicyError(self.name, f"expected {self.value.hex()}, got {actual}")


class MrEnclave(_ExpectedBytes):
    tee = Tee.SGX
    name = "mr_enclave"
    size = 32


class MrSigner(_ExpectedBytes):
    tee = Tee.SGX
    name = "mr_signer"
    size = 32


class MrTd(_ExpectedBytes):
    tee = Tee.TDX
    name = "mr_td"
    size = 48


class MrConfigId(_ExpectedBytes):
    tee = Tee.TDX
    name = "mr_config_id"
    size = 48


class SimulatedMeasurement(_ExpectedBytes):
    tee = Tee.SIMULATED
    name = "measurement"
    size = 48


@dataclass(frozen=True)
class Rtmr:
    """TDX runtime measurement register ``index`` (0–3) equals ``value``."""

    index: int
    value: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.index <= 3:
            raise ValueError("RTMR index is 0..3")
        if len(self.value) != 48:
            raise ValueError("an RTMR is 48 bytes")

    def check(self, verified: VerifiedQuote) -> None:
        name = f"rtmr{self.index}"
        actual = _measurement(verified, name, Tee.TDX, name)
        if not hmac.compare_digest(actual.lower(), self.value.hex()):
            raise PolicyError(name, f"expected {self.value.hex()}, got {actual}")


@dataclass(frozen=True)
class IsvProdId:
    """SGX ISVPRODID equals ``value``."""

    value: int

    def check(self, verified: VerifiedQuote) -> None:
        actual = int(_measurement(verified, "isv_prod_id", Tee.SGX, "isv_prod_id"))
        if actual != self.value:
            raise PolicyError("isv_prod_id", f"expected {self.value}, got {actual}")


@dataclass(frozen=True)
class MinIsvSvn:
    """SGX ISVSVN is at least ``value`` (older, possibly vulnerable enclave builds refused)."""

    value: int

    def check(self, verified: VerifiedQuote) -> None:
        actual = int(_measurement(verified, "min_isv_svn", Tee.SGX, "isv_svn"))
        if actual < self.value:
            raise PolicyError("min_isv_svn", f"ISVSVN {actual} is below the minimum {self.value}")


# TD_ATTRIBUTES bits (Intel TDX module ABI; the same split dcap-qvl's `TDAttributes` uses):
# bits 0-7 TUD (bit 0 DEBUG, 1-7 reserved debug bits), 8-27 reserved, 28 SEPT_VE_DISABLE,
# 29 reserved, 30 PKS, 31 KL, 32-62 reserved, 63 PERFMON.
_TUD_MASK: Final = 0x0000_0000_0000_00FF
_SEPT_VE_DISABLE: Final = 1 << 28
_RESERVED_MASK: Final = 0x7FFF_FFFF_2FFF_FF00


@dataclass(frozen=True)
class TdAttributes:
    """TDX TD_ATTRIBUTES rules (no-op for other TEEs).

    * any TUD bit (debug) refused, unless ``allow_debug_insecure``;
    * reserved bits refused: their meaning is unknown to this verifier, so fail closed;
    * SEPT_VE_DISABLE must be set: when clear, the untrusted VMM can make the TD take #VE on
      pending private pages, an attack surface Linux guests refuse at boot. Some paravisor
      designs (Azure) clear it; accept those only with ``allow_sept_ve_insecure``.
    PKS, KL and PERFMON are features the TD chose for itself and are allowed.
    """

    allow_debug_insecure: bool = False
    allow_sept_ve_insecure: bool = False

    def check(self, verified: VerifiedQuote) -> None:
        if verified.tee is not Tee.TDX:
            return
        raw = verified.measurements.get("td_attributes")
        if raw is None or len(raw) != 16:
            raise PolicyError("td_attributes", "the verified quote carries no TD_ATTRIBUTES")
        attributes = int.from_bytes(bytes.fromhex(raw), "little")
        if attributes & _TUD_MASK and not self.allow_debug_insecure:
            raise PolicyError(
                "td_attributes", f"TD debug bits are set (TD_ATTRIBUTES={raw}); TD is debuggable"
            )
        if attributes & _RESERVED_MASK:
            raise PolicyError("td_attributes", f"reserved TD_ATTRIBUTES bits are set ({raw})")
        if not attributes & _SEPT_VE_DISABLE and not self.allow_sept_ve_insecure:
            raise PolicyError(
                "td_attributes",
                f"SEPT_VE_DISABLE is not set (TD_ATTRIBUTES={raw}); "
                "refused unless allow_sept_ve_insecure",
            )


@dataclass(frozen=True)
class MrServiceTd:
    """TDX 1.5 MR_SERVICETD equals ``expected`` (all zero by default: no service TD bound).

    A bound service TD (e.g. a migration TD) can export or change the TD's state, so its
    identity must be pinned explicitly. TDX 1.0 quotes carry no such field and pass only when
    ``expected`` is all zero.
    """

    expected: bytes = bytes(48)

    def check(self, verified: VerifiedQuote) -> None:
        if verified.tee is not Tee.TDX:
            return
        actual = verified.measurements.get("mr_service_td", bytes(48).hex())
        if not hmac.compare_digest(actual.lower(), self.expected.hex()):
            raise PolicyError("mr_service_td", f"expected {self.expected.hex()}, got {actual}")


# SEV-SNP GUEST_POLICY bits and SIGNING_KEY values (Firmware ABI spec, pub. 56860); the same
# constants as veil.attestation.snp_report, repeated so the policy needs no report parser.
_SNP_POLICY_MIGRATE_MA: Final = 1 << 18
_SNP_POLICY_DEBUG: Final = 1 << 19
_SNP_SIGNING_KEYS: Final = {"0": "VCEK", "1": "VLEK", "7": "none"}


@dataclass(frozen=True)
class SnpGuest:
    """SEV-SNP guest rules (no-op for other TEEs).

    * the guest policy's DEBUG bit refused, unless ``allow_debug_insecure``: the host could
      read and write guest memory;
    * the MIGRATE_MA bit refused: a migration agent the host chooses could export the guest;
    * VMPL 0 only: a report requested from a less privileged level comes from code that a
      paravisor (the image, or whoever wrote VMPL 0) controls, not from the measured guest;
    * signed by the chip's VCEK; a VLEK (a key the cloud provider loads) only with
      ``allow_vlek``.
    """

    allow_vlek: bool = False
    allow_debug_insecure: bool = False

    def check(self, verified: VerifiedQuote) -> None:
        if verified.tee is not Tee.SEV_SNP:
            return
        raw_policy = verified.measurements.get("policy")
        if raw_policy is None or len(raw_policy) != 16:
            raise PolicyError("snp_policy", "the verified report carries no guest policy")
        policy = int.from_bytes(bytes.fromhex(raw_policy), "little")
        if policy & _SNP_POLICY_DEBUG and not self.allow_debug_insecure:
            raise PolicyError(
                "snp_policy",
                f"the guest policy allows debugging (POLICY={policy:#x}); "
                "refused unless allow_debug_insecure",
            )
        if policy & _SNP_POLICY_MIGRATE_MA:
            raise PolicyError(
                "snp_policy",
                f"the guest policy allows a migration agent (POLICY={policy:#x}), "
                "which could export the guest's memory",
            )
        vmpl = verified.measurements.get("vmpl")
        if vmpl != "0":
            raise PolicyError(
                "vmpl", f"the report comes from VMPL {vmpl or '(none)'}; only VMPL 0 is the guest"
            )
        key = _SNP_SIGNING_KEYS.get(verified.measurements.get("signing_key", ""))
        if key == "VLEK" and self.allow_vlek:
            return
        if key != "VCEK":
            raise PolicyError(
                "signing_key",
                f"the report is signed by a {key or 'unknown'} key; only VCEK is accepted unless "
                "the image reference values allow VLEK",
            )


@dataclass(frozen=True)
class ExpectedIdentity:
    """What the verifier expects the enclave to be; the fields of one TEE only."""

    mr_enclave: bytes | None = None
    mr_signer: bytes | None = None
    isv_prod_id: int | None = None
    min_isv_svn: int | None = None
    mr_td: bytes | None = None
    rtmrs: Mapping[int, bytes] = field(default_factory=dict)
    mr_config_id: bytes | None = None
    simulated_measurement: bytes | None = None

    def policies(self) -> tuple[Policy, ...]:
        sgx: list[Policy] = []
        tdx: list[Policy] = []
        sim: list[Policy] = []
        if self.mr_enclave is not None:
            sgx.append(MrEnclave(self.mr_enclave))
        if self.mr_signer is not None:
            sgx.append(MrSigner(self.mr_signer))
        if self.isv_prod_id is not None:
            sgx.append(IsvProdId(self.isv_prod_id))
        if self.min_isv_svn is not None:
            sgx.append(MinIsvSvn(self.min_isv_svn))
        if self.mr_td is not None:
            tdx.append(MrTd(self.mr_td))
        tdx.extend(Rtmr(index, value) for index, value in sorted(self.rtmrs.items()))
        if self.mr_config_id is not None:
            tdx.append(MrConfigId(self.mr_config_id))
        if self.simulated_measurement is not None:
            sim.append(SimulatedMeasurement(self.simulated_measurement))
        if sum(1 for group in (sgx, tdx, sim) if group) > 1:
            raise ValueError("expectations for more than one TEE can never all hold")
        return (*sgx, *tdx, *sim)


def default_policy(
    *,
    expected: ExpectedIdentity | Iterable[Policy] | None = None,
    allow_tcb_statuses: Iterable[TcbStatus | str] = (TcbStatus.UP_TO_DATE,),
    allow_advisory_ids: Iterable[str] | None = None,
    allow_debug_insecure: bool = False,
    allow_simulated_insecure: bool = False,
    allow_sept_ve_insecure: bool = False,
    allow_snp_vlek: bool = False,
) -> AllOf:
    """The policy veil applies unless told otherwise.

    Refuses simulated evidence, debug enclaves, TCB statuses other than ``UpToDate``, TDX
    reserved/SEPT_VE/service-TD attribute problems, SEV-SNP guests that allow debugging or a
    migration agent, report from a VMPL other than 0 or are signed by a VLEK (unless
    ``allow_snp_vlek``), and anything ``expected`` does not match.
    ``allow_advisory_ids=None`` accepts the advisories of an allowed status; a set pins them.
    """
    rules: list[Policy] = []
    if allow_simulated_insecure:
        _log.warning("INSECURE: simulated evidence accepted (allow_simulated_insecure)")
    else:
        rules.append(NotSimulated())
    if allow_debug_insecure:
        _log.warning("INSECURE: debug enclaves accepted (allow_debug_insecure)")
    else:
        rules.append(NotDebug())
    if allow_sept_ve_insecure:
        _log.warning("INSECURE: TDs without SEPT_VE_DISABLE accepted (allow_sept_ve_insecure)")
    statuses = frozenset(TcbStatus(s) for s in allow_tcb_statuses)
    rules.append(TcbStatusIn(statuses))
    if allow_advisory_ids is not None:
        rules.append(AdvisoryIdsIn(frozenset(allow_advisory_ids)))
    rules.append(
        TdAttributes(
            allow_debug_insecure=allow_debug_insecure,
            allow_sept_ve_insecure=allow_sept_ve_insecure,
        )
    )
    rules.append(MrServiceTd())
    rules.append(SnpGuest(allow_vlek=allow_snp_vlek, allow_debug_insecure=allow_debug_insecure))
    if isinstance(expected, ExpectedIdentity):
        rules.extend(expected.policies())
    elif expected is not None:
        rules.extend(expected)
    return AllOf(*rules)
