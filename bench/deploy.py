"""Deploy latency: wall time from ``veil deploy`` starting to the first verified response.

Runs the real ``veil`` command (simulated backend) on ``examples/hello-fastapi`` several
times, each time followed by ``curl --cacert <verified cert>``, and reports the median; then
one in-process deploy with the time of each step. Dependencies come from an offline wheelhouse
(the installed FastAPI repacked), so the figure includes vendoring but no network.

    python -m bench.deploy [--runs 5]
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

from tests.e2e._wheels import build_wheelhouse

from bench._harness import print_table

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "examples" / "hello-fastapi"
TARGET_SECONDS = 3.0


def _veil() -> str:
    found = shutil.which("veil", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("the veil console script is not installed in this environment")
    return found


def _one_run(veil: str, wheels: Path, env: dict[str, str], name: str) -> float:
    start = time.perf_counter()
    out = subprocess.run(
        [
            veil,
            "deploy",
            str(APP),
            "--name",
            name,
            "--allow-simulated-insecure",
            "--wheels-from",
            str(wheels),
            "--no-index",
            "--json",
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


def _steps(wheels: Path) -> list[tuple[str, float]]:
    from veil.host.supervisor import stop_node
    from veil.owner.deploy import DeployOptions, deploy

    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    deploy(
        APP,
        DeployOptions(
            name="bench-steps", allow_simulated_insecure=True, wheels_from=[wheels], no_index=True
        ),
        on_step=lambda step: marks.append((step, time.perf_counter())),
    )
    end = time.perf_counter()
    stop_node("bench-steps", grace=3.0, remove=True)
    times = [t for _, t in marks] + [end]
    return [(step, times[i + 1] - times[i]) for i, (step, _) in enumerate(marks)] + [
        ("total", end - start)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deploy")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    veil = _veil()
    with tempfile.TemporaryDirectory(prefix="veil-bench-") as scratch:
        home, wheels = Path(scratch) / "home", Path(scratch) / "wheels"
        build_wheelhouse(wheels, ["fastapi"])
        env = {**os.environ, "VEIL_HOME": str(home)}
        os.environ["VEIL_HOME"] = str(home)
        _one_run(veil, wheels, env, "bench-warmup")  # page cache, simulation root
        samples = [_one_run(veil, wheels, env, f"bench-{i}") for i in range(args.runs)]
        steps = _steps(wheels)
    median = statistics.median(samples)
    print_table(
        f"veil deploy → first verified response (hello-fastapi, simulated, {args.runs} runs)",
        ("median s", "min s", "max s", "target s", "met"),
        [
            (
                f"{median:.2f}",
                f"{min(samples):.2f}",
                f"{max(samples):.2f}",
                f"{TARGET_SECONDS:.1f}",
                "yes" if median <= TARGET_SECONDS else "NO",
            )
        ],
    )
    print_table(
        "one in-process deploy, by step",
        ("step", "seconds"),
        [(step, f"{seconds:.3f}") for step, seconds in steps],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
