"""Deploy latency: wall time from ``veil deploy`` starting to the first verified response.

Runs the real ``veil`` command (simulated backend) on ``examples/hello-fastapi``, each time
followed by ``curl --cacert <verified cert>``, and reports the median of two kinds of run:

- **first deploy**: an empty wheel cache, so vendoring runs ``pip download``;
- **repeat deploy**: the wheel cache filled by an earlier deploy of the same (fully pinned)
  requirements, so vendoring copies and re-hashes the cached wheels instead of running pip.

Then one in-process deploy (warm cache) with the time of each step. Dependencies come from an
offline wheelhouse (the installed FastAPI repacked, into a copy of the example whose pins name
the installed versions, as the end-to-end tests do), so the figures include vendoring but no
network. Every run uses a fresh ``VEIL_HOME`` node and a private ``XDG_CACHE_HOME``; nothing
from the user's own cache is used.

Outside the timed region: building the wheelhouse, and one warm-up deploy (run with
``--no-wheel-cache``, so it fills no cache) that creates this machine's simulation root and
loads the code into the page cache. A user pays the simulation root once per machine, not per
deploy.

The processes inherit this environment unchanged. Note that with ``PYTHONDONTWRITEBYTECODE=1``
(as in veil's development container) Python compiles every veil module from source at each
start of the CLI and of the node, which an installed veil (shipped with ``.pyc`` files) does not.

    python -m bench.deploy [--runs 5] [--first-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e._wheels import build_wheelhouse, offline_copy

from bench._harness import print_table

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "examples" / "hello-fastapi"
#: Targets of issue 8: median wall time of a first and of a repeat deploy, in seconds.
TARGET_FIRST_SECONDS = 2.0
TARGET_REPEAT_SECONDS = 1.0


def _veil() -> str:
    found = shutil.which("veil", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("the veil console script is not installed in this environment")
    return found


def _one_run(
    veil: str, app: Path, wheels: Path, env: dict[str, str], name: str, *extra: str
) -> float:
    start = time.perf_counter()
    out = subprocess.run(
        [
            veil,
            "deploy",
            str(app),
            "--name",
            name,
            "--allow-simulated-insecure",
            "--wheels-from",
            str(wheels),
            "--no-index",
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    if out.returncode != 0:
        raise SystemExit(f"veil deploy failed:\n{out.stderr}")
    result = json.loads(out.stdout)
    subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "-o",
            os.devnull,
            "--cacert",
            result["certificate"],
            f"{result['url']}/hello",
        ],
        check=True,
        timeout=30,
    )
    elapsed = time.perf_counter() - start
    subprocess.run([veil, "stop", name, "--remove"], env=env, check=True, capture_output=True)
    return elapsed


def _steps(app: Path, wheels: Path, cache: Path) -> list[tuple[str, float]]:
    from veil.host.nodes import LocalNodeManager
    from veil.owner.deploy import DeployOptions, deploy
    from veil.package.wheel_cache import WheelCache

    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    deploy(
        app,
        DeployOptions(
            name="bench-steps",
            allow_simulated_insecure=True,
            wheels_from=[wheels],
            no_index=True,
            wheel_store=WheelCache(cache / "veil"),
        ),
        on_step=lambda step: marks.append((step, time.perf_counter())),
    )
    end = time.perf_counter()
    LocalNodeManager.from_env().stop("bench-steps", grace=3.0, remove=True)
    times = [t for _, t in marks] + [end]
    return [(step, times[i + 1] - times[i]) for i, (step, _) in enumerate(marks)] + [
        ("total", end - start)
    ]


def _row(label: str, samples: list[float], target: float) -> tuple[str, ...]:
    median = statistics.median(samples)
    return (
        label,
        str(len(samples)),
        f"{median:.2f}",
        f"{min(samples):.2f}",
        f"{max(samples):.2f}",
        f"{target:.1f}",
        "yes" if median <= target else "NO",
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deploy")
    parser.add_argument("--runs", type=int, default=5, help="repeat deploys (warm wheel cache)")
    parser.add_argument("--first-runs", type=int, default=3, help="first deploys (empty cache)")
    args = parser.parse_args()
    veil = _veil()
    with tempfile.TemporaryDirectory(prefix="veil-bench-") as scratch:
        home, wheels = Path(scratch) / "home", Path(scratch) / "wheels"
        build_wheelhouse(wheels, ["fastapi"])
        # The example pins exact versions; the offline wheelhouse holds the installed ones.
        app = offline_copy(APP, Path(scratch) / "src")
        owner = Path(scratch) / "owner"
        env = {**os.environ, "VEIL_HOME": str(home), "VEIL_OWNER_HOME": str(owner)}
        os.environ["VEIL_HOME"] = str(home)
        os.environ["VEIL_OWNER_HOME"] = str(owner)
        warmup = {**env, "XDG_CACHE_HOME": str(Path(scratch) / "cache-warmup")}
        _one_run(veil, app, wheels, warmup, "bench-warmup", "--no-wheel-cache")
        first: list[float] = []
        for i in range(max(args.first_runs, 1)):
            cache = Path(scratch) / f"cache-{i}"  # empty: this deploy runs pip, fills it
            first.append(
                _one_run(
                    veil, app, wheels, {**env, "XDG_CACHE_HOME": str(cache)}, f"bench-first-{i}"
                )
            )
        warm = {**env, "XDG_CACHE_HOME": str(cache)}
        repeat = [_one_run(veil, app, wheels, warm, f"bench-{i}") for i in range(args.runs)]
        steps = _steps(app, wheels, cache)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print_table(
        f"veil deploy → first verified response (hello-fastapi, simulated; load average {load})",
        ("deploy", "runs", "median s", "min s", "max s", "target s", "met"),
        [
            _row("first (empty wheel cache: pip runs)", first, TARGET_FIRST_SECONDS),
            _row("repeat (wheel cache filled)", repeat, TARGET_REPEAT_SECONDS),
        ],
    )
    print_table(
        "one in-process deploy (wheel cache filled), by step",
        ("step", "seconds"),
        [(step, f"{seconds:.3f}") for step, seconds in steps],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
