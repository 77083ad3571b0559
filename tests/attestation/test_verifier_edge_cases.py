"""DCAP verification edge cases: malformed certificate encodings and non-canonical PEM chains.

``cryptography`` reports an invalid X.509 version (``x509.InvalidVersion``) and a duplicated
extension (``x509.DuplicateExtension``) with exceptions that are not ``ValueError``s; these
tests pin that ``verify_quote`` turns both into a ``QuoteVerificationError`` naming the step of
the chain that carries the certificate, and that veil's own PEM reader accepts exactly the
chains ``cryptography``'s reader accepts, with the same DER.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.attestation._quote_builder import SGX_V3, TDX_V4, TDX_V5, assemble, signature_data
from tests.attestation.synthetic_pki import (
    SyntheticPki,
    pem_of,
    with_duplicated_extension,
    with_version,
)
from veil.attestation._parsed_x509 import ParsedCertificate, read_pem_certificates
from veil.attestation.collateral import Collateral
from veil.attestation.errors import QuoteVerificationError
from veil.attestation.pck import SGX_EXTENSION_OID
from veil.attestation.quote import Quote, parse_quote
from veil.attestation.verifier import VerifiedCollateral, verify_collateral, verify_quote

#: Inside the validity windows of both real bundles (the verifier tests' S/T instant).
REAL_NOW = datetime.fromtimestamp(1751000000, UTC)
SYNTHETIC_NOW = datetime(2025, 6, 27, tzinfo=UTC)
REAL_BUNDLES = [SGX_V3, TDX_V4]
ISSUER_CHAINS = ["pck_crl_issuer_chain", "tcb_info_issuer_chain", "qe_identity_issuer_chain"]

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@dataclasses.dataclass(frozen=True)
class RealBundle:
    quote: Quote
    collateral: Collateral
    verified: VerifiedCollateral


@pytest.fixture(scope="module")
def real(vectors_dir: Path) -> dict[str, RealBundle]:
    bundles: dict[str, RealBundle] = {}
    for name in REAL_BUNDLES:
        quote = parse_quote((vectors_dir / name).read_bytes())
        collateral = Collateral.from_dcap_qvl_json(
            (vectors_dir / f"{name}_collateral.json").read_bytes()
        )
        verified = verify_collateral(collateral, now=REAL_NOW)
        bundles[name] = RealBundle(quote, collateral, verified)
    return bundles


def _ders(pem: bytes) -> list[bytes]:
    return [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]


def _with_chain(quote: Quote, chain: bytes) -> bytes:
    """``quote`` with its PCK chain replaced (certification data lengths recomputed)."""
    return assemble(quote, signature_data(quote, chain=chain))


def _with_field(collateral: Collateral, field: str, value: bytes) -> Collateral:
    changes: dict[str, Any] = {field: value}
    return dataclasses.replace(collateral, **changes)


def _refused(step: str, verify: Callable[[], object], *, contains: str) -> None:
    """``verify`` raises a QuoteVerificationError of ``step``; anything else (a raw
    ``cryptography`` exception above all) fails the test."""
    with pytest.raises(QuoteVerificationError) as caught:
        verify()
    assert caught.value.step == step, str(caught.value)
    assert contains in caught.value.detail, str(caught.value)


# ----- the rebuilding machinery itself -------------------------------------------------------

#: The shapes a quote's PEM chain is re-wrapped in: veil's own reader takes the first two, the
#: others go to cryptography's (CRLF, text between blocks, trailing NUL as in real quotes).
PEM_SHAPES: dict[str, Callable[[list[bytes]], bytes]] = {
    "canonical-nul": lambda ders: pem_of(*ders) + b"\0",
    "width-76": lambda ders: pem_of(*ders, width=76),
    "crlf-nul": lambda ders: pem_of(*ders, newline=b"\r\n") + b"\0",
    "text-between": lambda ders: pem_of(*ders, separator=b"subject=Intel\n") + b"\0\0",
    "cr-width-1": lambda ders: pem_of(*ders, width=1, newline=b"\r"),
    "nul-inside": lambda ders: pem_of(*ders, separator=b"\0\n"),
}


@pytest.mark.parametrize("name", REAL_BUNDLES)
@pytest.mark.parametrize("shape", PEM_SHAPES)
def test_real_quote_rewrapped_in_any_pem_shape_verifies_as_the_original(
    real: dict[str, RealBundle], name: str, shape: str
) -> None:
    bundle = real[name]
    ders = _ders(bundle.quote.certification.pck_cert_chain_pem)
    # Unchanged, the re-encoding helpers give back the very bytes of the real quote.
    assert [with_version(der, 2) for der in ders] == ders
    assert _with_chain(bundle.quote, pem_of(*ders) + b"\0") == bundle.quote.raw
    rebuilt = _with_chain(bundle.quote, PEM_SHAPES[shape](ders))
    expected = verify_quote(bundle.quote.raw, bundle.collateral, now=REAL_NOW)
    assert verify_quote(rebuilt, bundle.collateral, now=REAL_NOW) == expected
    assert verify_quote(rebuilt, bundle.verified, now=REAL_NOW) == expected


@pytest.mark.parametrize(
    "shape", ["blank-line-in-base64", "padding-removed", "base64-character-removed"]
)
def test_real_quote_with_pem_cryptography_refuses_fails_step_2_1(
    real: dict[str, RealBundle], shape: str
) -> None:
    bundle = real[SGX_V3]
    pem = pem_of(*_ders(bundle.quote.certification.pck_cert_chain_pem))
    broken = {
        "blank-line-in-base64": pem.replace(b"\n", b"\n\n", 3),
        "padding-removed": pem.replace(b"=\n-----END", b"\n-----END", 1),
        "base64-character-removed": pem[:100] + pem[101:],
    }[shape]
    with pytest.raises(ValueError, match="Unable to load PEM"):
        x509.load_pem_x509_certificates(broken)
    quote = _with_chain(bundle.quote, broken + b"\0")
    _refused("2.1", lambda: verify_quote(quote, bundle.collateral, now=REAL_NOW), contains="parse")


# ----- 1. invalid X.509 version --------------------------------------------------------------

#: Version INTEGER values cryptography refuses with ``x509.InvalidVersion``: 2 is v3, 0 (v1)
#: is never encoded in DER, and v2 (1) certificates are not read at all.
INVALID_VERSIONS = [1, 3, 255]


@pytest.mark.parametrize("name", REAL_BUNDLES)
@pytest.mark.parametrize("position", [0, 1, 2], ids=["pck", "pck-ca", "root"])
@pytest.mark.parametrize("version", INVALID_VERSIONS)
@pytest.mark.parametrize("shape", ["canonical-nul", "crlf-nul"])
def test_quote_chain_certificate_with_an_invalid_version_fails_step_2_1(
    real: dict[str, RealBundle], name: str, position: int, version: int, shape: str
) -> None:
    bundle = real[name]
    ders = _ders(bundle.quote.certification.pck_cert_chain_pem)
    ders[position] = with_version(ders[position], version)
    with pytest.raises(x509.InvalidVersion):  # the exception that is not a ValueError
        x509.load_der_x509_certificate(ders[position])
    quote = _with_chain(bundle.quote, PEM_SHAPES[shape](ders))
    assert parse_quote(quote).certification.pck_cert_chain_pem == PEM_SHAPES[shape](ders)
    expected = f"{version} is not a valid X509 version"
    for collateral in (bundle.collateral, bundle.verified):
        _refused("2.1", functools.partial(verify_quote, quote, collateral, now=REAL_NOW),
                 contains=expected)  # fmt: skip


@pytest.mark.parametrize("name", REAL_BUNDLES)
@pytest.mark.parametrize(
    ("field", "step"),
    [("pck_crl_issuer_chain", "2.4"), ("tcb_info_issuer_chain", "6.1"),
     ("qe_identity_issuer_chain", "6.5")],
)  # fmt: skip
@pytest.mark.parametrize("position", [0, 1], ids=["issuer", "root"])
def test_collateral_chain_certificate_with_an_invalid_version_fails_its_chain_step(
    real: dict[str, RealBundle], name: str, field: str, step: str, position: int
) -> None:
    bundle = real[name]
    ders = _ders(getattr(bundle.collateral, field))
    ders[position] = with_version(ders[position], 3)
    # Only this field changes: the TCB info and QE identity chains, equal in Intel's
    # collateral, now differ, so the QE identity chain is read on its own (step 6.5).
    collateral = _with_field(bundle.collateral, field, pem_of(*ders))
    contains = "3 is not a valid X509 version"
    _refused(step, lambda: verify_collateral(collateral, now=REAL_NOW), contains=contains)
    _refused(step, lambda: verify_quote(bundle.quote, collateral, now=REAL_NOW), contains=contains)


# ----- 2. duplicated extension ---------------------------------------------------------------

BASIC_CONSTRAINTS = ExtensionOID.BASIC_CONSTRAINTS.dotted_string
KEY_USAGE = ExtensionOID.KEY_USAGE.dotted_string


@pytest.fixture(scope="module")
def pki() -> SyntheticPki:
    return SyntheticPki.generate(now=SYNTHETIC_NOW)


@pytest.fixture(scope="module")
def base_quote(vectors_dir: Path) -> Quote:
    return parse_quote((vectors_dir / SGX_V3).read_bytes())


def _duplicated(pki: SyntheticPki, who: str, oid: str) -> x509.Certificate:
    """``pki``'s certificate ``who`` with extension ``oid`` twice, validly signed."""
    certificate: x509.Certificate = getattr(pki, who)
    signer = {"pck": pki.pck_ca_key}.get(who, pki.root_key)
    return x509.load_der_x509_certificate(with_duplicated_extension(certificate, oid, signer))


@pytest.mark.parametrize(
    ("who", "oid"),
    [("pck", SGX_EXTENSION_OID.dotted_string), ("pck", BASIC_CONSTRAINTS), ("pck", KEY_USAGE),
     ("pck_ca", BASIC_CONSTRAINTS), ("root", KEY_USAGE), ("tcb_signer", BASIC_CONSTRAINTS)],
)  # fmt: skip
def test_duplicated_extension_helper_builds_what_it_claims(
    pki: SyntheticPki, who: str, oid: str
) -> None:
    duplicated = _duplicated(pki, who, oid)
    with pytest.raises(x509.DuplicateExtension) as caught:  # not a ValueError either
        _ = duplicated.extensions
    assert caught.value.oid.dotted_string == oid
    issuer_key = (pki.pck_ca_key if who == "pck" else pki.root_key).public_key()
    # The signature is valid (verify raises otherwise): only the duplicate is wrong.
    issuer_key.verify(
        duplicated.signature, duplicated.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("who", "oid"),
    [("pck", SGX_EXTENSION_OID.dotted_string), ("pck", BASIC_CONSTRAINTS), ("pck", KEY_USAGE),
     ("pck_ca", BASIC_CONSTRAINTS), ("root", KEY_USAGE)],
)  # fmt: skip
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_quote_chain_certificate_with_a_duplicated_extension_fails_step_2_2(
    pki: SyntheticPki, base_quote: Quote, who: str, oid: str, warm: bool
) -> None:
    # The quote carries the broken certificate; the collateral is the genuine PKI's, so the
    # collateral verifies and the quote's chain is what is refused.
    changes: dict[str, Any] = {who: _duplicated(pki, who, oid)}
    quote = dataclasses.replace(pki, **changes).resign(base_quote)
    collateral = pki.collateral(parse_quote(quote))
    anchor = pki.root_public_key
    genuine = pki.resign(base_quote)
    verify_quote(genuine, collateral, now=SYNTHETIC_NOW, trust_anchor_for_testing=anchor)
    target: Collateral | VerifiedCollateral = collateral
    if warm:
        target = verify_collateral(collateral, now=SYNTHETIC_NOW, trust_anchor_for_testing=anchor)
    _refused(
        "2.2",
        lambda: verify_quote(quote, target, now=SYNTHETIC_NOW, trust_anchor_for_testing=anchor),
        contains=f"duplicate extension {oid}",
    )


@pytest.mark.parametrize(
    ("fields", "who", "step"),
    [(("pck_crl_issuer_chain",), "pck_ca", "2.4"), (("pck_crl_issuer_chain",), "root", "2.4"),
     (("tcb_info_issuer_chain", "qe_identity_issuer_chain"), "tcb_signer", "6.1"),
     (("qe_identity_issuer_chain",), "tcb_signer", "6.5"),
     (("tcb_info_issuer_chain",), "root", "6.1")],
    ids=["pck-crl-chain-pck-ca", "pck-crl-chain-root", "tcb-signer-in-both-chains",
         "tcb-signer-in-qe-identity-chain", "tcb-info-chain-root"],
)  # fmt: skip
def test_collateral_chain_certificate_with_a_duplicated_extension_fails_its_chain_step(
    pki: SyntheticPki, base_quote: Quote, fields: tuple[str, ...], who: str, step: str
) -> None:
    quote = pki.resign(base_quote)
    collateral = pki.collateral(parse_quote(quote))
    original: x509.Certificate = getattr(pki, who)
    duplicated = _duplicated(pki, who, KEY_USAGE if who == "root" else BASIC_CONSTRAINTS)
    for field in fields:
        chain = [
            _der(duplicated) if der == _der(original) else der
            for der in _ders(getattr(collateral, field))
        ]
        collateral = _with_field(collateral, field, pem_of(*chain))
    anchor = pki.root_public_key
    _refused(
        step,
        lambda: verify_collateral(collateral, now=SYNTHETIC_NOW, trust_anchor_for_testing=anchor),
        contains="duplicate extension",
    )
    _refused(
        step,
        lambda: verify_quote(quote, collateral, now=SYNTHETIC_NOW, trust_anchor_for_testing=anchor),
        contains="duplicate extension",
    )


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


# ----- 3. veil's PEM reader against cryptography's -------------------------------------------


@pytest.fixture(scope="module")
def real_chains(vectors_dir: Path) -> list[list[bytes]]:
    """DER of every real chain: three quotes' PCK chains and a collateral's issuer chains."""
    chains = [
        _ders(parse_quote((vectors_dir / name).read_bytes()).certification.pck_cert_chain_pem)
        for name in (SGX_V3, TDX_V4, TDX_V5)
    ]
    collateral = Collateral.from_dcap_qvl_json(
        (vectors_dir / f"{SGX_V3}_collateral.json").read_bytes()
    )
    return chains + [_ders(getattr(collateral, field)) for field in ISSUER_CHAINS]


@functools.cache
def _known(ders: tuple[bytes, ...]) -> dict[bytes, ParsedCertificate]:
    """Certificates by their PEM base64, as a warm verification knows them.

    Not a fixture: with a fixture holding parsed certificates among the test's arguments,
    Hypothesis 6.170 reported counterexamples as FlakyStrategyDefinition instead of the
    failing assertion.
    """
    return {c.base64: c for c in read_pem_certificates(pem_of(*ders)) if c.base64 is not None}


def _outcome(read: Callable[[], list[bytes]]) -> tuple[str, object]:
    """("accepted", DER list) or ("refused", exception type name)."""
    try:
        return "accepted", read()
    except (ValueError, x509.InvalidVersion) as e:
        return "refused", type(e).__name__


def _by_cryptography(pem: bytes) -> tuple[str, object]:
    return _outcome(
        lambda: [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]
    )


def _by_veil(pem: bytes, known: dict[bytes, ParsedCertificate] | None = None) -> tuple[str, object]:
    return _outcome(lambda: [c.der for c in read_pem_certificates(pem, known)])


#: Bytes inserted or written over: PEM's own punctuation, whitespace, NUL, non-ASCII, labels.
PIECES = [
    b"\n", b"\r\n", b"\r", b" ", b"\t", b"\x0b", b"\0", b"=", b"==", b"-", b"A", b"a", b"+",
    b"/", b"_", b"!", b":", b"\n\n", b"\xff", b"\xc3\xa9", b"-----END CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\n", b"Proc-Type: 4,ENCRYPTED\n", b"CERTIFICATE",
]  # fmt: skip
BASE64 = [bytes([c]) for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"]
SEPARATORS = [
    b"", b"\n", b"\r\n", b" \t\n", b"\0", b"\n\n\n", b"subject=CN=Intel SGX PCK CA\n",
    b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
]  # fmt: skip
_BEGIN_LINE = b"-----BEGIN CERTIFICATE-----\n"
_END_LINE = b"\n-----END CERTIFICATE-----"


def _landmarks(pem: bytes) -> list[int]:
    """Offsets of PEM's structure in ``pem``: each boundary line's edges, each line break and
    each ``=`` (and the character before it, the one that can carry stray bits)."""
    marks = [0, len(pem)]
    for token in (b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----", b"=", b"\n"):
        start = 0
        while (found := pem.find(token, start)) >= 0:
            marks += [found - 1, found, found + len(token)]
            start = found + 1
    return [mark for mark in marks if 0 <= mark <= len(pem)]


def _assert_readers_agree(pem: bytes, real_chains: list[list[bytes]]) -> None:
    """Same verdict and DER from cryptography, from veil's reader, and from veil's reader
    knowing every real certificate already (the warm path)."""
    expected = _by_cryptography(pem)
    assert _by_veil(pem) == expected
    known = _known(tuple(der for chain in real_chains for der in chain))
    assert _by_veil(pem, known) == expected


@PROPERTY_SETTINGS
@given(data=st.data())
def test_pem_reader_agrees_with_cryptography_on_mutated_real_chains(
    real_chains: list[list[bytes]], data: st.DataObject
) -> None:
    ders = data.draw(st.sampled_from(real_chains), label="chain")
    # Mostly the canonical shape (veil's own reader), sometimes the others (the fallback).
    pem = (
        data.draw(st.sampled_from([b"", b"", *SEPARATORS]), label="prefix")
        + pem_of(
            *ders,
            width=data.draw(st.sampled_from([64, 64, 76, 1, 3, 4, 63, 65, 4096]), label="width"),
            newline=data.draw(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r"]), label="newline"),
            separator=data.draw(st.sampled_from([b"", b"\n", *SEPARATORS]), label="separator"),
        )
        + data.draw(st.sampled_from([b"", b"", b"\0", b"\0\0\0", b"\n", b"trailing text"]))
    )
    for _ in range(data.draw(st.integers(0, 3), label="edits")):
        # Half the edits land at PEM's structure (block edges, line breaks, padding), where
        # the two readers' rules could differ; uniform positions would rarely hit those bytes.
        if data.draw(st.booleans(), label="at structure"):
            position = data.draw(st.sampled_from(_landmarks(pem)), label="landmark")
        else:
            position = data.draw(st.integers(0, len(pem)), label="position")
        edit = data.draw(st.sampled_from(["overwrite", "insert", "delete"]), label="edit")
        piece = data.draw(st.sampled_from(PIECES) | st.sampled_from(BASE64), label="piece")
        if edit == "overwrite":
            pem = pem[:position] + piece + pem[position + 1 :]
        elif edit == "insert":
            pem = pem[:position] + piece + pem[position:]
        else:
            pem = pem[:position] + pem[position + data.draw(st.integers(1, 3)) :]
    _assert_readers_agree(pem, real_chains)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_pem_reader_agrees_with_cryptography_on_the_last_base64_quantum(
    real_chains: list[list[bytes]], data: st.DataObject
) -> None:
    """Padding and the stray bits before it: cryptography wants canonical base64."""
    ders = data.draw(st.sampled_from(real_chains), label="chain")
    pem = pem_of(*ders)
    ends = [i for i in range(len(pem)) if pem.startswith(_END_LINE, i)]
    position = data.draw(st.sampled_from(ends), label="block") - data.draw(st.integers(1, 4))
    replacement = data.draw(st.sampled_from([*BASE64, b"=", b""]), label="replacement")
    _assert_readers_agree(pem[:position] + replacement + pem[position + 1 :], real_chains)


#: What a line break of a canonical chain is replaced with: none, a blank line, other line
#: ends, whitespace or NUL beside it, a PEM header line.
LINE_BREAKS = [
    b"", b"\n\n", b"\n\n\n", b"\r\n", b"\r", b"\n\r", b" \n", b"\n ", b"\t\n", b"\n\t",
    b"\0\n", b"\n\0", b"\x0b\n", b"\nProc-Type: 4,ENCRYPTED\n", b"\nA: b\n\n",
]  # fmt: skip


@PROPERTY_SETTINGS
@given(data=st.data())
def test_pem_reader_agrees_with_cryptography_on_every_line_break(
    real_chains: list[list[bytes]], data: st.DataObject
) -> None:
    """Line structure decides which reader runs: a blank line inside the base64 is refused,
    one after BEGIN is an empty header section, CRLF is fine; both must agree on each."""
    ders = data.draw(st.sampled_from(real_chains), label="chain")
    pem = pem_of(*ders, width=data.draw(st.sampled_from([64, 76, 5]), label="width"))
    breaks = [i for i in range(len(pem)) if pem[i] == ord("\n")]
    chosen = data.draw(st.sets(st.sampled_from(breaks), min_size=1, max_size=2), label="breaks")
    for position in sorted(chosen, reverse=True):  # from the end: earlier offsets stay valid
        replacement = data.draw(st.sampled_from(LINE_BREAKS), label="replacement")
        pem = pem[:position] + replacement + pem[position + 1 :]
    _assert_readers_agree(pem, real_chains)


def test_canonical_chains_skip_cryptographys_reader_and_others_fall_back_to_it(
    real_chains: list[list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The properties exercise both readers: canonical chains are read by veil alone; CRLF,
    text between blocks, a trailing NUL and a PEM header section go to cryptography."""
    calls: list[bytes] = []
    original = x509.load_pem_x509_certificates

    def spy(pem: bytes) -> list[x509.Certificate]:
        calls.append(pem)
        return original(pem)

    # _parsed_x509 calls it through the module attribute.
    monkeypatch.setattr(x509, "load_pem_x509_certificates", spy)
    ders = real_chains[0]
    for pem in (pem_of(*ders), pem_of(*ders, width=76), pem_of(*ders, separator=b" \n")):
        assert [c.der for c in read_pem_certificates(pem)] == ders
    assert calls == []
    fallbacks = [
        pem_of(*ders, newline=b"\r\n"),
        pem_of(*ders, separator=b"text\n"),
        pem_of(*ders) + b"\0",
        # A blank line after BEGIN: an empty set of RFC 1421 headers.
        pem_of(*ders).replace(_BEGIN_LINE, _BEGIN_LINE + b"\n", 1),
    ]
    for pem in fallbacks:
        assert [c.der for c in read_pem_certificates(pem)] == ders
    assert calls == fallbacks


@pytest.mark.parametrize("oid", [SGX_EXTENSION_OID.dotted_string, BASIC_CONSTRAINTS])
def test_pck_extension_reader_types_a_duplicated_extension(pki: SyntheticPki, oid: str) -> None:
    # The collateral sources read the FMSPC from an unverified PCK leaf before any chain check,
    # so the reader itself must turn cryptography's DuplicateExtension into its typed error.
    from veil.attestation.pck import PckExtension, PckExtensionError

    with pytest.raises(PckExtensionError, match="malformed"):
        PckExtension.from_certificate(_duplicated(pki, "pck", oid))
