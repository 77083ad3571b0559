"""Bounded mutation-differential test: veil never accepts what dcap-qvl 0.7.0 refuses.

Three families of inputs built from real bundles (fixed seed, a few hundred verifications):

* bit flips in every region of the quote (header, body, signature, attestation key, QE
  report, its signature, QE auth data, certification headers, each PCK chain certificate,
  trailing padding);
* collateral members swapped between bundles, alone and as signed pairs (TCB info with its
  signature, QE identity with its signature), and the two CRLs swapped with each other;
* instants at each collateral's issueDate / nextUpdate, each CRL's thisUpdate / nextUpdate and
  each certificate's notBefore / notAfter, and one second either side.

Where both accept they must agree on the TCB status. veil refusing what dcap-qvl accepts is
allowed only where docs/attestation.md ("Differences from dcap-qvl") says veil is stricter:
D1 non-zero trailing bytes, D2 the PCK CRL issuer chain, D3 the root certificate as presented,
D4 the framing of the signature data.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cryptography import x509

from tests.attestation.dcap_bundles import Bundle, Verdict, qvl_verdict, veil_verdict
from veil.attestation.collateral import Collateral
from veil.attestation.qe_identity import QeIdentity
from veil.attestation.quote import Quote, parse_quote
from veil.attestation.tcb_info import TcbInfo

SEED = 20260612
FLIPS_PER_REGION = 4
#: One SGX v3, one TDX v4 with zero padding, one TDX v5 quote.
FLIP_BUNDLES = [
    "phala_dcap_qvl_sgx_quote",
    "coco_trustee_tdx_quote_6_dat",
    "google_go_tdx_guest_quote_v5_sample_dat",
]
#: Two SGX and three TDX platforms (two of them the same FMSPC, B0C06F000000 and 90C06F000000
#: for the v5 quotes), so swaps cross TEE types, FMSPCs and issue times.
SWAP_BUNDLES = [
    "phala_dcap_qvl_sgx_quote",
    "automata_dcap_attestation_rust_crates_samples_quotev3_hex",
    "coco_trustee_tdx_quote_6_dat",
    "google_go_tdx_guest_quote_v5_sample_dat",
    "automata_dcap_attestation_evm_forge_test_assets_quotes_alibaba_quote_5_dat",
]
TIME_BUNDLES = [
    "phala_dcap_qvl_sgx_quote",
    "coco_trustee_tdx_quote_6_dat",
    "phala_dcap_qvl_near_gas_test_quote_hex_txt",
    "google_go_tdx_guest_quote_v5_sample_dat",
]
_MEMBERS = (
    "pck_crl",
    "pck_crl_issuer_chain",
    "root_ca_crl",
    "tcb_info",
    "tcb_info_signature",
    "tcb_info_issuer_chain",
    "qe_identity",
    "qe_identity_signature",
    "qe_identity_issuer_chain",
)
_SIGNED_PAIRS = (
    ("tcb_info", "tcb_info_signature"),
    ("qe_identity", "qe_identity_signature"),
    ("tcb_info", "tcb_info_signature", "qe_identity", "qe_identity_signature"),
)
_END = b"-----END CERTIFICATE-----"


@dataclass(frozen=True)
class Case:
    name: str
    quote: bytes
    collateral: Collateral
    now: datetime
    #: The documented difference this case falls under, if any (D1-D4).
    documented: str | None = None


@dataclass(frozen=True)
class Outcome:
    case: Case
    veil: Verdict
    qvl: Verdict


def _run(cases: Iterator[Case]) -> list[Outcome]:
    """Every case where veil and dcap-qvl disagree in a way the docs do not explain."""
    bad = []
    for case in cases:
        document = case.collateral.to_dcap_qvl_json()
        veil = veil_verdict(case.quote, document, case.now)
        qvl = qvl_verdict(case.quote, document, case.now)
        if veil.accepted:
            # Never allowed: veil accepting what dcap-qvl refuses, or another status.
            explained = qvl.accepted and qvl.status in (None, veil.status)
        else:
            explained = not qvl.accepted or case.documented is not None
        if not explained:
            bad.append(Outcome(case, veil, qvl))
    return bad


# ----- bit flips in every region of the quote ---------------------------------------------------


def quote_regions(quote: bytes) -> dict[str, range]:
    """Every field of the quote's wire format, by name, as byte ranges of ``quote``."""
    parsed = parse_quote(quote)
    signed = len(parsed.signed_data)
    certification = parsed.certification
    qe_at = quote.index(certification.qe_report.raw, signed)
    auth_at = qe_at + 384 + 64 + 2
    chain = certification.pck_cert_chain_pem
    chain_at = quote.index(chain, auth_at)
    ends = [chain_at + m.end() for m in re.finditer(re.escape(_END), chain)]
    regions = {
        "header": range(0, 48),
        "body": range(48, signed),
        "signature data length": range(signed, signed + 4),
        "quote signature": range(signed + 4, signed + 68),
        "attestation key": range(signed + 68, signed + 132),
        "QE report": range(qe_at, qe_at + 384),
        "QE report signature": range(qe_at + 384, qe_at + 448),
        "QE auth data length": range(qe_at + 448, auth_at),
        "QE auth data": range(auth_at, auth_at + len(certification.qe_auth_data)),
        "certification header": range(chain_at - 6, chain_at),
        "PCK certificate": range(chain_at, ends[0]),
        "PCK CA certificate": range(ends[0], ends[1]),
        "root certificate": range(ends[1], ends[2]),
        "after the chain": range(ends[2], chain_at + len(chain)),
        "trailing padding": range(len(parsed.raw), len(quote)),
    }
    if parsed.version >= 4:  # the type-6 wrapper around the QE report
        regions["QE certification header"] = range(signed + 132, qe_at)
    return {name: span for name, span in regions.items() if len(span)}


_DOCUMENTED_QUOTE_REGIONS = {
    "trailing padding": "D1",
    "root certificate": "D3",
    # The unsigned framing: lengths that must consume their region exactly, and the type-6
    # tag of v4/v5, which dcap-qvl reads past.
    "signature data length": "D4",
    "QE certification header": "D4",
    "certification header": "D4",
}


def _flips(bundle: Bundle) -> Iterator[Case]:
    rng = random.Random(f"{SEED}:{bundle.id}")
    quote, collateral = bundle.quote, bundle.collateral
    for region, span in quote_regions(quote).items():
        for _ in range(FLIPS_PER_REGION):
            offset = rng.choice(span)
            flipped = bytearray(quote)
            flipped[offset] ^= 1 << rng.randrange(8)
            yield Case(
                f"{bundle.id} {region} @{offset}",
                bytes(flipped),
                collateral,
                bundle.now,
                _DOCUMENTED_QUOTE_REGIONS.get(region),
            )


def test_regions_cover_the_whole_quote(bundles: dict[str, Bundle]) -> None:
    for bundle_id in FLIP_BUNDLES:
        quote = bundles[bundle_id].quote
        covered = sorted(i for span in quote_regions(quote).values() for i in span)
        assert covered == list(range(len(quote))), bundle_id


def test_quote_bit_flips(bundles: dict[str, Bundle]) -> None:
    cases = (case for bundle_id in FLIP_BUNDLES for case in _flips(bundles[bundle_id]))
    assert _run(cases) == []


# ----- collateral members swapped ----------------------------------------------------------------


def _swapped(collateral: Collateral, donor: Collateral, members: tuple[str, ...]) -> Collateral:
    return replace(collateral, **{m: getattr(donor, m) for m in members})


def _swaps(bundles: dict[str, Bundle]) -> Iterator[Case]:
    chosen = [bundles[b] for b in SWAP_BUNDLES]
    for bundle in chosen:
        collateral = bundle.collateral
        crls_swapped = replace(
            collateral, pck_crl=collateral.root_ca_crl, root_ca_crl=collateral.pck_crl
        )
        yield Case(f"{bundle.id} CRLs swapped", bundle.quote, crls_swapped, bundle.now)
        for donor in chosen:
            if donor is bundle:
                continue
            for member in _MEMBERS:
                yield Case(
                    f"{bundle.id} {member} of {donor.id}",
                    bundle.quote,
                    _swapped(collateral, donor.collateral, (member,)),
                    bundle.now,
                    "D2" if member == "pck_crl_issuer_chain" else None,
                )
            for pair in _SIGNED_PAIRS:
                for now in (bundle.now, donor.now):  # valid for the quote's or the donor's time
                    yield Case(
                        f"{bundle.id} {'+'.join(pair)} of {donor.id} at {now.isoformat()}",
                        bundle.quote,
                        _swapped(collateral, donor.collateral, pair),
                        now,
                    )


def test_collateral_member_swaps(bundles: dict[str, Bundle]) -> None:
    assert _run(_swaps(bundles)) == []


# ----- validity boundaries, to the second ------------------------------------------------------


def boundaries(bundle: Bundle) -> dict[str, datetime]:
    """Every instant where a piece of ``bundle`` becomes or stops being valid."""
    collateral = bundle.collateral
    tcb_info = TcbInfo.from_json(collateral.tcb_info)
    qe_identity = QeIdentity.from_json(collateral.qe_identity)
    instants = {
        "TCB info issueDate": tcb_info.issue_date,
        "TCB info nextUpdate": tcb_info.next_update,
        "QE identity issueDate": qe_identity.issue_date,
        "QE identity nextUpdate": qe_identity.next_update,
    }
    for member in ("pck_crl", "root_ca_crl"):
        crl = x509.load_der_x509_crl(getattr(collateral, member))
        instants[f"{member} thisUpdate"] = crl.last_update_utc
        if crl.next_update_utc is not None:
            instants[f"{member} nextUpdate"] = crl.next_update_utc
    quote: Quote = parse_quote(bundle.quote)
    chains = {
        "PCK chain": quote.certification.pck_cert_chain_pem.rstrip(b"\0"),
        "PCK CRL issuer chain": collateral.pck_crl_issuer_chain,
        "TCB info issuer chain": collateral.tcb_info_issuer_chain,
        "QE identity issuer chain": collateral.qe_identity_issuer_chain,
    }
    for name, pem in chains.items():
        for depth, certificate in enumerate(x509.load_pem_x509_certificates(pem)):
            instants[f"{name} {depth} notBefore"] = certificate.not_valid_before_utc
            instants[f"{name} {depth} notAfter"] = certificate.not_valid_after_utc
    return instants


def _instants(bundle: Bundle) -> Iterator[Case]:
    seen: set[datetime] = set()
    for name, instant in boundaries(bundle).items():
        for delta in (-1, 0, 1):
            now = instant + timedelta(seconds=delta)
            if now not in seen:
                seen.add(now)
                yield Case(f"{bundle.id} {name} {delta:+d}s", bundle.quote, bundle.collateral, now)


def test_validity_boundaries(bundles: dict[str, Bundle]) -> None:
    cases = (case for bundle_id in TIME_BUNDLES for case in _instants(bundles[bundle_id]))
    assert _run(cases) == []
