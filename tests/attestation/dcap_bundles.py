"""The real DCAP bundles of the shared vectors (quote × collateral × instant × dcap-qvl's verdict).

Read from ``_assembled/manifest.json`` (vectors README §B) plus the bundles §A ships complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from veil.attestation.collateral import Collateral
from veil.attestation.quote import parse_quote_text

__all__ = ["Bundle", "load_bundles", "read_quote"]

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
