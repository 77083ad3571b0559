"""Benchmark the cost of answering ``GET /_veil/evidence?nonce=``: a quote per request (before
ADR 0012) against a signature by the attested key (now).

Run from the repository root: ``.venv/bin/python -m bench.evidence [--repeat N] [--http-seconds S]
[--concurrency N] [--skip-http]``

In-process rows (one simulated enclave instance for the notes test app, same run):
* ``before: whole evidence document``: what every nonce request cost (the baseline): a new
  certificate over the nonce, rendered into evidence.json.
* ``before: certificate + quote``: its core, ``issue_ratls_certificate`` over the nonce with the
  simulated backend's ``quote``. The simulated quote is one Ed25519 signature; on hardware a
  quote takes milliseconds to tens of ms in the host's shared quoting enclave, so there the gap
  is far wider than these rows show.
* ``now: nonce signature``: ``sign_freshness`` with the attested key.
* ``now: whole evidence document``: ``EnclaveInstance.evidence_json(nonce=...)``, signature
  and JSON included.
Figures are CPU time per call (``time.process_time``); the rows take turns in ``ROUNDS`` blocks
so that a change of machine load falls on every row alike. Ratios are against the baseline.

HTTP rows (unless ``--skip-http``): a simulated node started as a process on loopback, loaded
by ``bench._load`` (its own process, keep-alive connections) for ``/_veil/status`` (the
cheapest endpoint, the baseline) and ``/_veil/evidence?nonce=``, requests per second.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from tests.enclave._node_helpers import (
    NodeProcess,
    make_package,
    write_app,
    write_node_dir,
)

from bench._harness import ms, print_table, time_rows
from veil.ratls.issue import IssuedCertificate

REPO = Path(__file__).resolve().parent.parent
NOTES = REPO / "tests" / "e2e" / "apps" / "notes"
#: Blocks per row: the rows take turns so that every one sees the same machine load.
ROUNDS = 10


def in_process(repeat: int, work: Path) -> None:
    # Imported here: the simulation root lives under VEIL_HOME, set by main() first.
    from tests.owner.conftest import make_instance, package_app

    from veil.ratls.freshness import sign_freshness
    from veil.ratls.issue import issue_ratls_certificate

    instance = make_instance(package_app(NOTES, work / "notes").package)
    # A key like the instance's own (P-256): the cost is the same, and its key stays private.
    key = ec.generate_private_key(ec.SECP256R1())
    certificate_der = instance.certificate.der
    instance_id = instance.spec.instance_id
    sealing_key = instance.sealing_key.public_key().to_bytes()
    nonce = secrets.token_bytes(32)

    def before() -> IssuedCertificate:
        return issue_ratls_certificate(
            key,
            quote_fn=instance.backend.quote,
            sealing_public_key=sealing_key,
            sealing_suite=instance.sealing_key.suite.value,
            sans=list(instance.spec.san),
            now=datetime.now(UTC),
            nonce=nonce,
            claims=instance.claims,
        )

    def before_document() -> bytes:
        # The old evidence_json(nonce=...): a new certificate, rendered into the document.
        issued = before()
        document = instance.evidence_document()
        return dataclasses.replace(
            document,
            ratls_certificate=issued.pem,
            quote=issued.quote,
            deployment=dataclasses.replace(document.deployment, nonce=nonce),
        ).to_json()

    timings = time_rows(
        {
            "before: whole evidence document": before_document,
            "before: certificate + quote": before,
            "now: nonce signature": lambda: sign_freshness(
                key,
                nonce=nonce,
                instance_id=instance_id,
                certificate_der=certificate_der,
            ),
            "now: whole evidence document": lambda: instance.evidence_json(nonce=nonce),
        },
        repeat=repeat,
        rounds=ROUNDS,
    )
    baseline = timings[0].median
    print_table(
        f"evidence over a nonce, simulated backend ({repeat} calls per row)",
        ("path", "median CPU ms", "p99 CPU ms", "vs before"),
        [(t.name, ms(t.median), ms(t.p99), f"{t.median / baseline:.3f}x") for t in timings],
    )


def _load(url: str, cacert: Path, seconds: float, concurrency: int) -> tuple[float, int]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench._load",
            url,
            "--cacert",
            str(cacert),
            "--mode",
            "keepalive",
            "--duration",
            str(seconds),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    data = json.loads(out.stdout)
    return data["requests"] / data["elapsed"], data["errors"]


def over_http(seconds: float, concurrency: int, work: Path) -> None:
    package = make_package(write_app(work / "app"), work / "app.veil")
    node_dir = work / "node"
    write_node_dir(node_dir, package.path, simulation_dir=work / "simulation")
    node = NodeProcess(node_dir)
    try:
        node.wait_for("waiting")
        cacert = work / "ratls.pem"
        cacert.write_bytes(node.certificate_pem())
        paths = {
            "/_veil/status": "/_veil/status",
            "/_veil/evidence?nonce=": f"/_veil/evidence?nonce={secrets.token_hex(32)}",
        }
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in paths}
        for _ in range(2):  # alternate, so that machine load hits both alike
            for name, path in paths.items():
                results[name].append(_load(node.url + path, cacert, seconds / 2, concurrency))
    finally:
        node.stop()
    rates = {name: sum(r for r, _ in runs) / len(runs) for name, runs in results.items()}
    baseline = rates["/_veil/status"]
    print_table(
        f"HTTP, one simulated node on loopback ({concurrency} keep-alive clients, "
        f"{seconds:g} s per endpoint)",
        ("endpoint", "requests/s", "errors", "vs status"),
        [
            (
                name,
                f"{rate:.0f}",
                str(sum(e for _, e in results[name])),
                f"{rate / baseline:.2f}x",
            )
            for name, rate in rates.items()
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300, help="timed calls per row")
    parser.add_argument("--http-seconds", type=float, default=4.0, help="load per endpoint")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP clients")
    parser.add_argument("--skip-http", action="store_true", help="in-process rows only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        # A throwaway operator home: the simulation root must not touch the user's own.
        os.environ["VEIL_HOME"] = str(work / "home")
        in_process(args.repeat, work)
        if not args.skip_http:
            over_http(args.http_seconds, args.concurrency, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
