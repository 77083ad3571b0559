"""Serving throughput: the FastAPI example served by a veil node vs the same app under plain
uvicorn, same certificate, same load generator, same run.

Targets (each measured with keep-alive and with a new TLS connection per request):
* ``uvicorn``: plain uvicorn (h11, asyncio, no access log: the node's settings) with a
  self-signed ECDSA P-256 certificate;
* ``veil (operator TLS)``: a veil node serving the app with that very certificate and key;
* ``veil (zero trust)``: a veil node serving with its RA-TLS certificate (P-256 as well, with
  the quote in an extension, so its handshakes carry a bigger certificate).
Rounds alternate the targets so that load from elsewhere on the machine hits all of them alike.
The load generator (``bench._load``) runs in its own process.

    python -m bench.serve [--duration 4] [--rounds 2] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e._certs import self_signed
from tests.e2e._wheels import build_wheelhouse

from bench._harness import print_table

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "examples" / "hello-fastapi"
PATH = "/hello?name=bench"
TARGET_RATIO = 0.9


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    cacert: Path


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    rps: float
    p50: float
    p99: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def _plain_uvicorn(cert: Path, key: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:app",
            "--app-dir",
            str(APP),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--http",
            "h11",
            "--loop",
            "asyncio",
            "--no-access-log",
            "--log-level",
            "warning",
            "--ssl-certfile",
            str(cert),
            "--ssl-keyfile",
            str(key),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_listening(port)
    return process, port


def _load(target: Target, mode: str, duration: float, concurrency: int) -> Result:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench._load",
            target.url + PATH,
            "--cacert",
            str(target.cacert),
            "--mode",
            mode,
            "--duration",
            str(duration),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    data = json.loads(out.stdout)
    latencies = sorted(data["latencies"])
    if not latencies:
        raise SystemExit(f"{target.name}: no successful request ({data['errors']} errors)")
    return Result(
        requests=data["requests"],
        errors=data["errors"],
        rps=data["requests"] / data["elapsed"],
        p50=statistics.median(latencies),
        p99=latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="veil-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        os.environ["VEIL_HOME"] = str(scratch / "home")
        from veil.host.supervisor import stop_node
        from veil.owner.deploy import DeployOptions, deploy

        wheels = build_wheelhouse(scratch / "wheels", ["fastapi"])
        cert = self_signed(scratch / "cert", ["localhost", "127.0.0.1"])
        common = {"allow_simulated_insecure": True, "wheels_from": [wheels], "no_index": True}
        zero = deploy(APP, DeployOptions(name="bench-zt", **common))  # type: ignore[arg-type]
        operator = deploy(
            APP,
            DeployOptions(
                name="bench-op",
                operator_tls=(cert.certificate, cert.private_key),
                **common,  # type: ignore[arg-type]
            ),
        )
        plain, port = _plain_uvicorn(cert.certificate, cert.private_key)
        targets = [
            Target("uvicorn", f"https://127.0.0.1:{port}", cert.certificate),
            Target("veil (operator TLS)", operator.url, cert.certificate),
            Target("veil (zero trust)", zero.url, zero.certificate),
        ]
        try:
            results: dict[tuple[str, str], list[Result]] = {}
            for mode in ("keepalive", "new-connection"):
                for _ in range(args.rounds):
                    for target in targets:
                        result = _load(target, mode, args.duration, args.concurrency)
                        results.setdefault((mode, target.name), []).append(result)
        finally:
            plain.terminate()
            plain.wait(timeout=10)
            stop_node("bench-zt", grace=3.0, remove=True)
            stop_node("bench-op", grace=3.0, remove=True)
    for mode in ("keepalive", "new-connection"):
        baseline = statistics.median(r.rps for r in results[(mode, "uvicorn")])
        rows: list[tuple[str, ...]] = []
        for target in targets:
            runs = results[(mode, target.name)]
            rps = statistics.median(r.rps for r in runs)
            ratio = rps / baseline
            rows.append(
                (
                    target.name,
                    f"{rps:.0f}",
                    f"{statistics.median(r.p50 for r in runs) * 1000:.2f}",
                    f"{statistics.median(r.p99 for r in runs) * 1000:.2f}",
                    str(sum(r.errors for r in runs)),
                    f"{ratio:.2f}",
                    "" if target.name == "uvicorn" else ("yes" if ratio >= TARGET_RATIO else "NO"),
                )
            )
        print_table(
            f"GET {PATH}, {mode}, {args.concurrency} concurrent, {args.rounds}×{args.duration:g} s",
            ("server", "req/s", "p50 ms", "p99 ms", "errors", "× uvicorn", f"≥ {TARGET_RATIO}"),
            rows,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
