"""The shared part of the fuzz harnesses: seeds, mutation strategies and the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.errors import VeilError

__all__ = [
    "REPO_ROOT",
    "Harness",
    "main",
    "mutated",
    "typed",
    "vectors_dir",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The real vectors shipped with the repository (MIT / Apache-2.0, tests/vectors/README.md):
#: every seed comes from there, so the harnesses run in a fresh clone.
VECTORS_DIR = REPO_ROOT / "tests" / "vectors"
#: Longest input a mutation builds, in bytes: past every parser's first length checks, small
#: enough that one example stays fast.
MAX_MUTATED_BYTES = 64 * 1024

FuzzOne = Callable[[bytes], None]


def vectors_dir() -> Path:
    return VECTORS_DIR


def typed() -> contextlib.suppress:
    """Let veil's typed errors pass; anything else escapes, and is a bug."""
    return contextlib.suppress(VeilError)


# ----- mutations -----------------------------------------------------------------------------

_INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x30, 0x22, 0x5C)
_INTERESTING_U32 = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF)


@st.composite
def _byte_mutation(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        operation = draw(st.sampled_from(("flip", "byte", "u32", "cut", "insert", "delete")))
        if operation == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "byte" and data:
            data[position] = draw(st.sampled_from(_INTERESTING_BYTES))
        elif operation == "u32" and len(data) >= 4:
            value = draw(st.sampled_from(_INTERESTING_U32))
            position = min(position, len(data) - 4)
            data[position : position + 4] = value.to_bytes(4, "little")
        elif operation == "cut":
            del data[position:]
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 64))]
    return bytes(data[:MAX_MUTATED_BYTES])


_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["", "0" * 64, "UpToDate", "Revoked", "2025-01-01T00:00:00Z", "AAAA"]),
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def _json_mutation(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """A seed JSON document with one member replaced, removed or added: valid JSON that gets
    past the parser's syntax checks to its field checks."""
    document = json.loads(draw(st.sampled_from(seeds)))
    path = draw(st.sampled_from(list(_paths(document))))
    if not path:
        return json.dumps(draw(_JSON_VALUES)).encode()
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    operation = draw(st.sampled_from(("replace", "remove", "add")))
    if operation == "replace":
        parent[path[-1]] = draw(_JSON_VALUES)
    elif operation == "remove":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(_JSON_VALUES)
    else:
        parent.append(draw(_JSON_VALUES))
    return json.dumps(document).encode()


def mutated(seeds: Sequence[bytes], *, json_seeds: bool = False) -> st.SearchStrategy[bytes]:
    """Inputs near ``seeds``: the seeds, byte-level mutations of them, (for JSON seeds)
    structural mutations, and a little arbitrary bytes."""
    if not seeds:
        raise ValueError("a harness needs at least one seed")
    strategies = [st.sampled_from(seeds), _byte_mutation(seeds), st.binary(max_size=256)]
    documents = [seed for seed in seeds if _is_json(seed)] if json_seeds else []
    if documents:
        strategies.append(_json_mutation(documents))
    return st.one_of(strategies)


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


# ----- the command line ----------------------------------------------------------------------


class Harness:
    """One parser's harness: ``fuzz_one`` and the seeds it starts from."""

    def __init__(
        self,
        fuzz_one: FuzzOne,
        seeds: Callable[[Path], list[bytes]],
        *,
        json_seeds: bool = False,
    ) -> None:
        self.fuzz_one = fuzz_one
        self.seeds = seeds
        self.json_seeds = json_seeds

    def strategy(self, vectors: Path) -> st.SearchStrategy[bytes]:
        return mutated(self.seeds(vectors), json_seeds=self.json_seeds)


def _run_hypothesis(harness: Harness, examples: int, vectors: Path) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(harness.strategy(vectors))
    def run(data: bytes) -> None:
        harness.fuzz_one(data)

    run()


def _run_atheris(harness: Harness, arguments: list[str], vectors: Path) -> None:
    import atheris  # noqa: PLC0415 (optional: only this mode needs it)

    corpus = Path(arguments[0]) if arguments and not arguments[0].startswith("-") else None
    if corpus is not None:
        corpus.mkdir(parents=True, exist_ok=True)
        for index, seed in enumerate(harness.seeds(vectors)):
            (corpus / f"seed-{index}").write_bytes(seed)
    atheris.Setup([sys.argv[0], *arguments], harness.fuzz_one)
    atheris.Fuzz()


def main(harness: Harness, argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=20_000, help="hypothesis examples")
    parser.add_argument(
        "--atheris",
        nargs=argparse.REMAINDER,
        help="run under atheris (if installed) instead; the rest is libFuzzer's arguments, a "
        "corpus directory first (seeded with the harness's seeds)",
    )
    arguments = parser.parse_args(argv)
    vectors = vectors_dir()
    if arguments.atheris is not None:
        _run_atheris(harness, arguments.atheris, vectors)
    else:
        _run_hypothesis(harness, arguments.examples, vectors)
