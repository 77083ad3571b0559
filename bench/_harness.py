"""Small helpers shared by the benchmark scripts: timing, percentiles and ratio tables.

Every benchmark measures its baseline in the same run and prints ratios against it, so the
figures mean the same thing on any machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Timing", "ms", "print_table", "time_calls", "time_rows"]


@dataclass(frozen=True)
class Timing:
    """Latencies of repeated calls, in seconds."""

    name: str
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def time_calls(name: str, fn: Callable[[], object], *, repeat: int, warmup: int = 1) -> Timing:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing(name, tuple(samples))


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def time_rows(
    rows: dict[str, Callable[[], object]], *, repeat: int, warmup: int = 20, rounds: int = 10
) -> list[Timing]:
    """CPU time of ``repeat`` calls of each row, the rows taking turns in ``rounds`` blocks."""
    for fn in rows.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in rows}
    per_round = max(1, -(-repeat // rounds))
    for _ in range(rounds):
        for name, fn in rows.items():
            taken = samples[name]
            for _ in range(min(per_round, repeat - len(taken))):
                start = time.process_time()
                fn()
                taken.append(time.process_time() - start)
    return [Timing(name, tuple(taken)) for name, taken in samples.items()]
