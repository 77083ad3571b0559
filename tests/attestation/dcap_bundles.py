"""The real DCAP bundles of the vectors (quote × collateral × instant × dcap-qvl's verdict),
and the verdicts of veil and dcap-qvl on them.

Read from ``_assembled/manifest.json`` (vectors README §B) plus the bundles §A ships complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dcap_qvl

from veil.attestation.collateral import Collateral
from veil.attestation.quote import parse_quote_text
from veil.attestation.verifier import verify_quote
from veil.errors import VeilError

__all__ = [
    "NOT_REDISTRIBUTED",
    "Bundle",
    "Verdict",
    "agree",
    "load_bundles",
    "qvl_verdict",
    "read_quote",
    "veil_verdict",
]

#: Bundles with a piece from a source that is not MIT or Apache-2.0: only in the shared vectors,
#: not in tests/vectors (its README says why for each).
NOT_REDISTRIBUTED = frozenset(
    {
        "cosmian_enclave_ratls_quote_extracted_bin",
        "cosmian_intel_sgx_ra_quote_dat",
        "coco_trustee_tdx_quote_4_dat",
        "google_go_tdx_guest_tdx_prod_quote_SPR_E4_dat",
    }
)

#: dcap-qvl rejects these after every signature and TCB check passed: attribute *policy*,
#: which veil leaves to ``veil.attestation.policy`` (docs/attestation.md, "Layering").
QVL_POLICY_ERRORS = (
    "Debug mode is enabled",
    "SEPT_VE_DISABLE is not enabled",
    "Invalid MR service TD",
    "Reserved bits in TD attributes are set",
)


@dataclass(frozen=True)
class Bundle:
    id: str
    quote_file: str
    quote: bytes
    collateral_json: bytes
    now: datetime
    #: dcap-qvl 0.7.0's verdict as recorded in the manifest.
    qvl_verdict: str
    qvl_status: str | None
    qvl_advisory_ids: tuple[str, ...]
    qvl_error: str | None

    @property
    def collateral(self) -> Collateral:
        return Collateral.from_dcap_qvl_json(self.collateral_json)

    @property
    def now_seconds(self) -> int:
        return int(self.now.timestamp())


def read_quote(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix in (".hex", ".txt"):
        return parse_quote_text(data)
    return data


def load_bundles(vectors: Path) -> dict[str, Bundle]:
    manifest = json.loads((vectors / "_assembled" / "manifest.json").read_text())
    bundles = {}
    for entry in manifest:
        # One entry annotates its path ("… (original, unmodified)").
        collateral_file = entry["collateral_file"].split(" ")[0]
        result = entry["dcap_qvl_0_7_0_result"]
        bundles[entry["id"]] = Bundle(
            id=entry["id"],
            quote_file=entry["quote_file"],
            quote=read_quote(vectors / entry["quote_file"]),
            collateral_json=(vectors / collateral_file).read_bytes(),
            now=datetime.fromtimestamp(entry["verify_at_unix"], UTC),
            qvl_verdict=result["verdict"],
            qvl_status=result.get("status"),
            qvl_advisory_ids=tuple(result.get("advisory_ids", ())),
            qvl_error=result.get("error"),
        )
    return bundles


# ----- verdicts of both verifiers ----------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    #: TCB status; None when unknown (dcap-qvl refused by attribute policy after its checks).
    status: str | None
    detail: str


def veil_verdict(quote: bytes, collateral_json: bytes, now: datetime) -> Verdict:
    try:
        verified = verify_quote(quote, Collateral.from_dcap_qvl_json(collateral_json), now=now)
    except VeilError as e:
        return Verdict(False, None, f"{type(e).__name__}: {e}")
    return Verdict(True, verified.tcb_status.value, "")


def qvl_verdict(quote: bytes, collateral_json: bytes, now: datetime) -> Verdict:
    try:
        collateral = dcap_qvl.QuoteCollateralV3.from_json(collateral_json.decode("utf-8"))
        report = dcap_qvl.verify(quote, collateral, int(now.timestamp()))
    except (ValueError, UnicodeDecodeError) as e:
        if any(reason in str(e) for reason in QVL_POLICY_ERRORS):
            # Every check passed; dcap-qvl then applied policy, which veil leaves to the policy
            # layer. Count it as a verified quote of unknown status.
            return Verdict(True, None, str(e))
        return Verdict(False, None, str(e))
    return Verdict(True, str(report.status), "")


def agree(veil: Verdict, qvl: Verdict) -> bool:
    if veil.accepted != qvl.accepted:
        return False
    return not veil.accepted or qvl.status is None or veil.status == qvl.status
