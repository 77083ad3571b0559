"""A short hypothesis run of every fuzz harness in fuzz/: parsers raise only veil's typed errors."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fuzz._harness import Harness
from veil.errors import VeilError

HARNESSES = [
    "quote",
    "collateral",
    "crl",
    "pck_chain",
    "ratls_extension",
    "package_header",
    "archive",
    "sealed_envelope",
    "evidence",
]
#: Enough to pass every parser's first checks from the seeds; ``python -m fuzz.<name>`` runs
#: longer (fuzz/README.md).
EXAMPLES = 40
SEED = 20260612


def _harness(name: str) -> Harness:
    harness = importlib.import_module(f"fuzz.{name}").HARNESS
    assert isinstance(harness, Harness)
    return harness


def test_every_harness_module_is_listed() -> None:
    found = {p.stem for p in (Path(__file__).parents[2] / "fuzz").glob("[!_]*.py")}
    assert found == set(HARNESSES)


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_seeds_run_clean(name: str, vectors_dir: Path) -> None:
    harness = _harness(name)
    for data in harness.seeds(vectors_dir):
        harness.fuzz_one(data)


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_raises_only_typed_errors(name: str, vectors_dir: Path) -> None:
    harness = _harness(name)

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(harness.strategy(vectors_dir))
    def run(data: bytes) -> None:
        harness.fuzz_one(data)

    run()


def test_typed_lets_only_veil_errors_pass() -> None:
    from fuzz._harness import typed

    with typed():
        raise VeilError("expected")
    with pytest.raises(ValueError, match="a bug"), typed():
        raise ValueError("a bug")


@given(st.data())
@settings(max_examples=20, deadline=None)
def test_mutations_stay_bounded(data: st.DataObject) -> None:
    from fuzz._harness import MAX_MUTATED_BYTES, mutated

    value = data.draw(mutated([b"x" * 10, b'{"a": [1, {"b": "c"}]}'], json_seeds=True))
    assert isinstance(value, bytes)
    assert len(value) <= MAX_MUTATED_BYTES
