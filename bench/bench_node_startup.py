"""Node start-up: process start → ``waiting``, and provisioning → ``serving``, for an example app.

Usage::

    python -m bench.bench_node_startup [--app examples/hello-fastapi] [--wheels DIR] [--runs 3]

``--wheels`` is a local directory of wheels for the app's dependencies (``pip download`` them
once); the benchmark itself never uses the network. The baseline is a bare ``python -c pass``
process start on the same machine, measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from tests.enclave._node_helpers import (
    NodeProcess,
    ca_context,
    sealed_secrets,
    write_node_dir,
)

from bench._harness import print_table
from veil.crypto.keys import CodeKey
from veil.package.encrypted import write_package
from veil.package.source import prepared_source


def _package(app: Path, wheels: Path | None, out: Path) -> tuple[CodeKey, str]:
    key = CodeKey.generate()
    find_links = [wheels] if wheels is not None else []
    with prepared_source(app, find_links=find_links, no_index=wheels is not None) as source:
        info = write_package(source, out, key=key)
    return key, info.fingerprint


def _one_run(work: Path, package: Path, key: CodeKey, fingerprint: str) -> tuple[float, float]:
    node_dir = work / f"node-{time.monotonic_ns()}"
    write_node_dir(node_dir, package, simulation_dir=work / "simulation")
    started = time.perf_counter()
    node = NodeProcess(node_dir)
    try:
        node.wait_for("waiting", timeout=60)
        to_waiting = time.perf_counter() - started
        pem = node.certificate_pem()
        envelope = sealed_secrets(pem, node.spec["instance_id"], key=key, fingerprint=fingerprint)
        posted = time.perf_counter()
        response = httpx.post(
            f"{node.url}/_veil/provision", content=envelope, verify=ca_context(pem)
        )
        if response.status_code != 202:
            raise SystemExit(f"provisioning refused: {response.status_code} {response.text}")
        node.wait_for("serving", timeout=60)
        to_serving = time.perf_counter() - posted
        return to_waiting, to_serving
    finally:
        node.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", type=Path, default=Path("examples/hello-fastapi"))
    parser.add_argument("--wheels", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="veil-bench-") as tmp:
        work = Path(tmp)
        app = work / "app"
        shutil.copytree(args.app, app, ignore=shutil.ignore_patterns("__pycache__", "*.veil"))
        key, fingerprint = _package(app, args.wheels, work / "app.veil")
        baseline = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            baseline.append(time.perf_counter() - start)
        runs = [_one_run(work, work / "app.veil", key, fingerprint) for _ in range(args.runs)]
    python = min(baseline)
    rows: list[tuple[str, ...]] = [
        ("python -c pass (baseline)", f"{python * 1000:.0f} ms", "1.0"),
        (
            "process start → waiting",
            f"{min(r[0] for r in runs) * 1000:.0f} ms",
            f"{min(r[0] for r in runs) / python:.1f}",
        ),
        (
            "provision → serving",
            f"{min(r[1] for r in runs) * 1000:.0f} ms",
            f"{min(r[1] for r in runs) / python:.1f}",
        ),
        (
            "end to end",
            f"{min(r[0] + r[1] for r in runs) * 1000:.0f} ms",
            f"{min(r[0] + r[1] for r in runs) / python:.1f}",
        ),
    ]
    print_table(f"node start-up for {args.app} (best of {args.runs})", ("step", "time", "×"), rows)


if __name__ == "__main__":
    main()
