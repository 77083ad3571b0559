"""Fuzz harness: collateral documents (dcap-qvl JSON, veil bundle) through reading and verifying."""

from __future__ import annotations

from pathlib import Path

from fuzz._harness import Harness, main, typed, vectors_dir
from fuzz._real import NOW, real_bundles
from veil.attestation.collateral import load_collateral
from veil.attestation.verifier import verify_collateral, verify_quote


def fuzz_one(data: bytes) -> None:
    with typed():
        collateral = load_collateral(data)
        verified = verify_collateral(collateral, now=NOW)
        verify_quote(real_bundles(vectors_dir())["sgx"].quote, verified, now=NOW)


def seeds(vectors: Path) -> list[bytes]:
    bundles = real_bundles(vectors).values()
    return [b.collateral_json for b in bundles] + [b.collateral.to_bundle_json() for b in bundles]


HARNESS = Harness(fuzz_one, seeds, json_seeds=True)

if __name__ == "__main__":
    main(HARNESS)
