"""Serving throughput: the FastAPI example served by a veil node vs the same app under plain
uvicorn, same certificate, same load generator, same run.

Targets (each measured with keep-alive and with a new TLS connection per request):
* ``uvicorn``: plain uvicorn (h11, asyncio, no access log: the node's settings) with a
  self-signed ECDSA P-256 certificate;
* ``veil (operator TLS)``: a veil node serving the app with that very certificate and key;
* ``veil (zero trust)``: a veil node serving with its RA-TLS certificate (P-256 as well, with
  the quote in an extension, so its handshakes carry a bigger certificate).
Rounds alternate the targets so that load from elsewhere on the machine hits all of them alike.

The load generator is ``wrk`` (native, so the client is not the bottleneck): when it is missing
and the bench runs as root with ``apt-get``, it installs Debian's ``wrk`` package; otherwise it
says how to, and falls back to ``bench._load`` (Python, its own process), whose figures are
bounded by the client. Loopback only; every measurement lasts ``--duration`` seconds. wrk does
not check the certificate (the TLS cost is the same: full handshake, same key and chain).

Targets met (keep-alive): veil req/s >= ``TARGET_RATIO`` x uvicorn, veil p99 <= ``TARGET_P99``
x uvicorn. Each target gets a short unmeasured warm-up first. Besides req/s and latency, each row
gives the server process's CPU time per request (all its threads, from ``/proc``): on a shared
machine req/s and p99 move with other processes' load, the CPU spent per request much less.

    python -m bench.serve [--duration 4] [--rounds 3] [--concurrency 4] [--python-load]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e._certs import self_signed
from tests.e2e._wheels import build_wheelhouse, offline_copy

from bench._harness import print_table

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "examples" / "hello-fastapi"
PATH = "/hello?name=bench"
#: Targets of issue 8, keep-alive rows: req/s at least, and p99 latency at most, x uvicorn.
TARGET_RATIO = 0.95
TARGET_P99 = 1.1
#: wrk prints one JSON line from its ``done`` hook: counts, and latency percentiles in µs.
_WRK_SCRIPT = """
local close = os.getenv("VEIL_BENCH_CLOSE") == "1"
if close then wrk.headers["Connection"] = "close" end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "errors": %d, "elapsed": %f, "p50": %f, "p99": %f}\\n',
    summary.requests, errors, summary.duration / 1e6,
    latency:percentile(50) / 1e6, latency:percentile(99) / 1e6))
end
"""


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    cacert: Path
    #: The serving process, whose CPU time is read around each measurement.
    pid: int


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    rps: float
    p50: float
    p99: float
    #: CPU seconds the server process spent per request (NaN where /proc is unavailable).
    cpu_per_request: float = float("nan")


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
        # Its own session, as veil nodes get: with autogroup scheduling (Linux default) a
        # session is one scheduling group, so both servers then compete for CPU alike.
        start_new_session=True,
    )
    _wait_listening(port)
    return process, port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of every thread of ``pid`` so far (NaN without /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def find_wrk() -> str | None:
    """The ``wrk`` binary; installed from Debian when missing and this runs as root with apt."""
    found = shutil.which("wrk")
    if found is not None:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get") is not None:
        print("installing wrk with apt-get (once) ...", file=sys.stderr)
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, check=False
        )
        if done.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, check=False
            )
        found = shutil.which("wrk")
    if found is None:
        print(
            "wrk not found: install it (Debian/Ubuntu: sudo apt-get install wrk) for figures "
            "not bounded by the client; falling back to the Python load generator",
            file=sys.stderr,
        )
    return found


def _load_wrk(
    wrk: str, script: Path, target: Target, mode: str, *, duration: float, concurrency: int
) -> Result:
    out = subprocess.run(
        [
            wrk,
            "--threads",
            str(min(2, concurrency)),
            "--connections",
            str(concurrency),
            "--duration",
            f"{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "--script",
            str(script),
            target.url + PATH,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "VEIL_BENCH_CLOSE": "1" if mode == "new-connection" else "0"},
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    if not data["requests"]:
        raise SystemExit(f"{target.name}: no successful request ({data['errors']} errors)")
    return Result(
        requests=data["requests"],
        errors=data["errors"],
        rps=data["requests"] / data["elapsed"],
        p50=data["p50"],
        p99=data["p99"],
    )


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
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--python-load", action="store_true", help="use bench._load even if wrk is available"
    )
    args = parser.parse_args()
    wrk = None if args.python_load else find_wrk()
    print(f"load generator: {wrk or 'bench._load (Python)'}; load average {_loadavg()}")
    with tempfile.TemporaryDirectory(prefix="veil-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        os.environ["VEIL_HOME"] = str(scratch / "home")
        os.environ["VEIL_OWNER_HOME"] = str(scratch / "owner")
        from veil.host.nodes import LocalNodeManager
        from veil.owner.deploy import DeployOptions, deploy

        wheels = build_wheelhouse(scratch / "wheels", ["fastapi"])
        cert = self_signed(scratch / "cert", ["localhost", "127.0.0.1"])
        common = {"allow_simulated_insecure": True, "wheels_from": [wheels], "no_index": True}
        # The example pins exact versions; the offline wheelhouse holds the installed ones.
        app = offline_copy(APP, scratch / "src")
        zero = deploy(app, DeployOptions(name="bench-zt", **common))  # type: ignore[arg-type]
        # Operator TLS is a scenario the app's veil.toml must choose.
        operator_app = offline_copy(APP, scratch / "src-operator")
        config = operator_app / "veil.toml"
        config.write_text(
            config.read_text().replace('scenario = "zero-trust"', 'scenario = "operator"')
        )
        operator = deploy(
            operator_app,
            DeployOptions(
                name="bench-op",
                operator_tls=(cert.certificate, cert.private_key),
                **common,  # type: ignore[arg-type]
            ),
        )
        plain, port = _plain_uvicorn(cert.certificate, cert.private_key)
        script = scratch / "report.lua"
        script.write_text(_WRK_SCRIPT)
        targets = [
            Target("uvicorn", f"https://127.0.0.1:{port}", cert.certificate, plain.pid),
            Target("veil (operator TLS)", operator.url, cert.certificate, _pid(operator.node_dir)),
            Target("veil (zero trust)", zero.url, zero.certificate, _pid(zero.node_dir)),
        ]
        try:
            results: dict[tuple[str, str], list[Result]] = {}

            def measure(target: Target, mode: str, duration: float) -> Result:
                if wrk is None:
                    return _load(target, mode, duration, args.concurrency)
                return _load_wrk(
                    wrk, script, target, mode, duration=duration, concurrency=args.concurrency
                )

            for target in targets:  # first requests: connection pools, lazy imports
                measure(target, "keepalive", 1.0)
            for mode in ("keepalive", "new-connection"):
                for _ in range(args.rounds):
                    for target in targets:
                        cpu_before = _cpu_seconds(target.pid)
                        result = measure(target, mode, args.duration)
                        cpu = (_cpu_seconds(target.pid) - cpu_before) / result.requests
                        results.setdefault((mode, target.name), []).append(
                            dataclasses.replace(result, cpu_per_request=cpu)
                        )
        finally:
            plain.terminate()
            plain.wait(timeout=10)
            nodes = LocalNodeManager.from_env()
            nodes.stop("bench-zt", grace=3.0, remove=True)
            nodes.stop("bench-op", grace=3.0, remove=True)
    for mode in ("keepalive", "new-connection"):
        base = results[(mode, "uvicorn")]
        base_rps = statistics.median(r.rps for r in base)
        base_p99 = statistics.median(r.p99 for r in base)
        rows: list[tuple[str, ...]] = []
        for target in targets:
            runs = results[(mode, target.name)]
            rps = statistics.median(r.rps for r in runs)
            p99 = statistics.median(r.p99 for r in runs)
            met = rps / base_rps >= TARGET_RATIO and p99 / base_p99 <= TARGET_P99
            rows.append(
                (
                    target.name,
                    f"{rps:.0f}",
                    f"{statistics.median(r.p50 for r in runs) * 1000:.2f}",
                    f"{p99 * 1000:.2f}",
                    str(sum(r.errors for r in runs)),
                    f"{rps / base_rps:.2f}",
                    f"{p99 / base_p99:.2f}",
                    f"{statistics.median(r.cpu_per_request for r in runs) * 1e6:.0f}",
                    "" if target.name == "uvicorn" or mode != "keepalive" else _yes(met),
                )
            )
        print_table(
            f"GET {PATH}, {mode}, {args.concurrency} concurrent, {args.rounds}×{args.duration:g} s"
            " (medians over rounds)",
            ("server", "req/s", "p50 ms", "p99 ms", "errors", "req/s ×", "p99 ×",
             "CPU µs/req", f"met (≥ {TARGET_RATIO}, ≤ {TARGET_P99})"),
            rows,
        )  # fmt: skip
    print(f"\nload average {_loadavg()}")
    return 0


def _pid(node_dir: Path | None) -> int:
    if node_dir is None:
        raise SystemExit("the deployed node has no local directory to read its pid from")
    return int((node_dir / "node.pid").read_text())


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
