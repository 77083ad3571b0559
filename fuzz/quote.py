"""Fuzz harness: DCAP quote bytes through the parser and the verifier (warm collateral)."""

from __future__ import annotations

from pathlib import Path

from fuzz._harness import Harness, main, typed, vectors_dir
from fuzz._real import NOW, real_bundles, real_quotes
from veil.attestation.quote import measurements_of, parse_quote, parse_quote_text
from veil.attestation.result import Tee
from veil.attestation.verifier import verify_quote


def fuzz_one(data: bytes) -> None:
    with typed():
        parse_quote_text(data)
    with typed():
        quote = parse_quote(data)
        measurements_of(quote)
        bundle = real_bundles(vectors_dir())["tdx" if quote.tee is Tee.TDX else "sgx"]
        verify_quote(quote, bundle.verified, now=NOW)


def seeds(vectors: Path) -> list[bytes]:
    return real_quotes(vectors)


HARNESS = Harness(fuzz_one, seeds)

if __name__ == "__main__":
    main(HARNESS)
