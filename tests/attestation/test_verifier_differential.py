"""Differential test: veil and dcap-qvl 0.7.0 agree on verdict and TCB status.

On every real bundle, and on a few hundred random single-byte mutations (fixed seed) of the
quote and of the collateral JSON of one SGX and one TDX bundle. Where they disagree on
purpose, the mutation must fall in a documented region (docs/attestation.md, "Differences
from dcap-qvl") and veil must be the one refusing:

* D1 bytes after the quote's signature data: unauthenticated, veil refuses non-zero ones.
* D2 ``pck_crl_issuer_chain``: dcap-qvl never reads it; veil verifies it to the pinned root.
* D3 the root certificate *as presented* in a chain: dcap-qvl ignores it (it uses its own
  copy); veil requires a well-formed certificate carrying the pinned key, as Intel QVL does.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.attestation.dcap_bundles import Bundle, agree, qvl_verdict, veil_verdict
from veil.attestation.quote import parse_quote

NOW = datetime.fromtimestamp(1751000000, UTC)
SEED = 20250627
MUTATIONS_PER_TARGET = 75  # × (quote, collateral) × (SGX, TDX) = 300
_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"


# ----- regions where a disagreement is documented ------------------------------------------------


def _quote_regions(quote: bytes) -> dict[str, range]:
    parsed = parse_quote(quote)
    chain = parsed.certification.pck_cert_chain_pem
    chain_start = quote.index(chain)
    second_end = [m.end() for m in re.finditer(re.escape(_END), chain)][1]
    return {
        "D1": range(len(parsed.raw), len(quote)),
        "D3": range(chain_start + second_end, chain_start + len(chain)),
    }


def _json_string_span(document: bytes, key: str) -> range:
    match = re.search(rb'"' + key.encode() + rb'":\s*"', document)
    assert match is not None
    return range(match.end(), document.index(b'"', match.end()))


def _collateral_regions(document: bytes) -> dict[str, list[range]]:
    regions: dict[str, list[range]] = {"D2": [_json_string_span(document, "pck_crl_issuer_chain")]}
    regions["D3"] = []
    for key in ("tcb_info_issuer_chain", "qe_identity_issuer_chain"):
        span = _json_string_span(document, key)
        first_end = document.index(_END, span.start) + len(_END)
        regions["D3"].append(range(first_end, span.stop))
    return regions


def _explained(offset: int, regions: dict[str, list[range]]) -> str | None:
    for name, spans in regions.items():
        if any(offset in span for span in spans):
            return name
    return None


# ----- the tests ---------------------------------------------------------------------------------


# TCB Info v2: dcap-qvl 0.7.0 cannot parse it, veil can (docs: "Differences from dcap-qvl").
_V2_TCB_INFO = "coco_trustee_occlum_quote_dat"


@pytest.mark.parametrize("which", ["bundles", "shared_bundles"])
def test_veil_and_dcap_qvl_agree_on_every_real_bundle(
    request: pytest.FixtureRequest, which: str
) -> None:
    """Every bundle shipped in tests/vectors, then every bundle of the shared vectors."""
    bundles: dict[str, Bundle] = request.getfixturevalue(which)
    disagreements = []
    for bundle in bundles.values():
        veil = veil_verdict(bundle.quote, bundle.collateral_json, bundle.now)
        qvl = qvl_verdict(bundle.quote, bundle.collateral_json, bundle.now)
        if bundle.id == _V2_TCB_INFO:
            assert "sgxtcbcomponents" in qvl.detail
            assert veil.accepted
            continue
        if not agree(veil, qvl) and _explained_trailing(bundle) is None:
            disagreements.append((bundle.id, veil, qvl))
    assert disagreements == []


def _explained_trailing(bundle: Bundle) -> str | None:
    """D1 for a whole bundle: a quote file with non-zero bytes after its signature data."""
    size = int.from_bytes(bundle.quote[632:636], "little") + 636
    if bundle.quote[size:].strip(b"\0"):
        return "D1"
    return None


@pytest.mark.parametrize(
    ("quote_file", "collateral_file"),
    [
        ("phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json"),
        ("phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_collateral.json"),
    ],
)
def test_veil_and_dcap_qvl_agree_on_random_single_byte_mutations(
    vectors_dir: Path, quote_file: str, collateral_file: str
) -> None:
    quote = (vectors_dir / quote_file).read_bytes()
    document = (vectors_dir / collateral_file).read_bytes()
    rng = random.Random(f"{SEED}:{quote_file}")
    quote_regions = {name: [span] for name, span in _quote_regions(quote).items()}
    collateral_regions = _collateral_regions(document)
    assert agree(veil_verdict(quote, document, NOW), qvl_verdict(quote, document, NOW))

    unexplained = []
    documented: dict[str, int] = {}
    for index in range(2 * MUTATIONS_PER_TARGET):
        in_quote = index % 2 == 0
        target = quote if in_quote else document
        offset = rng.randrange(len(target))
        mutated = (
            target[:offset] + bytes([target[offset] ^ rng.randrange(1, 256)]) + target[offset + 1 :]
        )
        pair = (mutated, document) if in_quote else (quote, mutated)
        veil, qvl = veil_verdict(*pair, NOW), qvl_verdict(*pair, NOW)
        if agree(veil, qvl):
            continue
        reason = _explained(offset, quote_regions if in_quote else collateral_regions)
        # Every documented difference is veil refusing what dcap-qvl accepts, never the reverse.
        if reason is None or veil.accepted:
            unexplained.append(("quote" if in_quote else "collateral", offset, veil, qvl))
        else:
            documented[reason] = documented.get(reason, 0) + 1
    assert unexplained == []
