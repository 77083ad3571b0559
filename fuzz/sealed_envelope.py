"""Fuzz harness: sealed envelopes opened with the right key and binding (both suites)."""

from __future__ import annotations

import functools
from pathlib import Path

from fuzz._harness import Harness, main, typed
from veil.crypto.hpke import SealingPrivateKey, SealingSuite
from veil.sealing.envelope import seal, unseal

BINDING = b"veil-fuzz-binding"


@functools.cache
def _keys() -> tuple[SealingPrivateKey, ...]:
    return tuple(SealingPrivateKey.generate(suite=suite) for suite in SealingSuite)


def fuzz_one(data: bytes) -> None:
    for key in _keys():
        with typed():
            unseal(data, recipient=key, binding=BINDING)


def seeds(vectors: Path) -> list[bytes]:
    return [
        seal(b"a sealed secret", recipient=key.public_key(), binding=BINDING) for key in _keys()
    ]


HARNESS = Harness(fuzz_one, seeds)

if __name__ == "__main__":
    main(HARNESS)
