"""Benchmark DCAP quote verification: veil (cold and warm) against dcap-qvl and intel-sgx-ra.

Run from the repository root: ``.venv/bin/python -m bench.verify [--repeat N] [--skip-cosmian]``

* veil cold: ``verify_quote(quote_bytes, Collateral)``, nothing reused between calls.
* veil warm: ``verify_quote(quote_bytes, VerifiedCollateral)`` (collateral verified once;
  validity windows and the quote's PCK chain are still checked on every call).
* dcap-qvl 0.7.0 (Rust): ``dcap_qvl.verify(quote, QuoteCollateralV3, now)``.
* Cosmian intel-sgx-ra (Python, SGX only): installed in its own venv under the user cache
  (it pins cryptography<44) and timed inside a subprocess whose clock is frozen at the
  bundle's instant. It checks less (no TCB info/QE identity signatures, no TCB levels).

Collateral objects are built outside the timed region for every library. Ratios are against
dcap-qvl, measured in the same run.

Targets (issue 8): veil cold <= ``TARGET_COLD`` x dcap-qvl, veil warm <= ``TARGET_WARM`` x; each
table says whether they are met.

Figures are the CPU time of each call (``time.process_time``), not wall time: the machine is
shared, and a process that is descheduled mid-call would otherwise be charged for the other
processes' work. The in-process rows take turns in ``ROUNDS`` blocks of calls, so that a change
of load during the run falls on every row alike instead of on whichever row ran then.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dcap_qvl

from bench._harness import Timing, ms, print_table, time_rows
from veil.attestation.collateral import Collateral
from veil.attestation.verifier import verify_collateral, verify_quote

REPO = Path(__file__).resolve().parent.parent
NOW = datetime.fromtimestamp(1751000000, UTC)  # inside both bundles' validity windows
#: Blocks per row: the rows take turns so that every one sees the same machine load.
ROUNDS = 10
#: Targets, as median CPU time x dcap-qvl's in the same run.
TARGET_COLD = 1.5
TARGET_WARM = 0.7
_TARGETS = {"veil cold": TARGET_COLD, "veil warm": TARGET_WARM}


@dataclass(frozen=True)
class Case:
    name: str
    quote: bytes
    collateral_json: bytes


def vectors_dir() -> Path:
    """The real vectors shipped with the repository (tests/vectors/README.md)."""
    return REPO / "tests" / "vectors"


def cases() -> list[Case]:
    folder = vectors_dir() / "phala-dcap-qvl"
    return [
        Case(
            "SGX v3 (phala sgx_quote)",
            (folder / "sgx_quote").read_bytes(),
            (folder / "sgx_quote_collateral.json").read_bytes(),
        ),
        Case(
            "TDX v4 (phala tdx_quote)",
            (folder / "tdx_quote").read_bytes(),
            (folder / "tdx_quote_collateral.json").read_bytes(),
        ),
    ]


# ----- Cosmian intel-sgx-ra, in its own venv --------------------------------------------------

_COSMIAN_RUNNER = textwrap.dedent(
    """
    import datetime as _dt, json, logging, statistics, sys, time
    logging.disable(logging.CRITICAL)
    from cryptography import x509
    import intel_sgx_ra.attest as attest

    quote_path, collateral_path = sys.argv[1], sys.argv[2]
    now_ts, repeat = int(sys.argv[3]), int(sys.argv[4])
    frozen = _dt.datetime.fromtimestamp(now_ts, _dt.timezone.utc)

    class FrozenDatetime(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return frozen if tz is not None else frozen.replace(tzinfo=None)

    attest.datetime = FrozenDatetime  # the library reads the clock inside its checks
    c = json.load(open(collateral_path))
    quote = open(quote_path, "rb").read()
    def signed(key, body, signature):
        return ('{"' + key + '":' + body + ',"signature":"' + signature + '"}').encode()

    tcb_info = signed("tcbInfo", c["tcb_info"], c["tcb_info_signature"])
    qe_identity = signed("enclaveIdentity", c["qe_identity"], c["qe_identity_signature"])
    tcb_cert = x509.load_pem_x509_certificates(c["tcb_info_issuer_chain"].encode())[0]
    collaterals = (tcb_info, qe_identity, tcb_cert,
                   x509.load_der_x509_crl(bytes.fromhex(c["root_ca_crl"])),
                   x509.load_der_x509_crl(bytes.fromhex(c["pck_crl"])))
    try:
        attest.verify_quote(quote, collaterals=collaterals)
    except Exception as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(0)
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        attest.verify_quote(quote, collaterals=collaterals)
        samples.append(time.process_time() - start)
    print(json.dumps({"samples": samples}))
    """
)


def cosmian_python() -> Path | str:
    """The interpreter of a venv with intel-sgx-ra, created on first use; or why not."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    venv = cache / "veil" / "bench" / "intel-sgx-ra"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing intel-sgx-ra into {venv} (once) ...", file=sys.stderr)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "intel-sgx-ra"],
                check=True,
                timeout=600,
            )
        except (subprocess.SubprocessError, OSError) as e:
            return f"cannot install intel-sgx-ra: {e}"
    return python


def time_cosmian(python: Path, case: Case, repeat: int) -> Timing | str:
    if "SGX" not in case.name:
        return "intel-sgx-ra verifies SGX quotes only"
    with tempfile.TemporaryDirectory() as folder:
        quote_path = Path(folder) / "quote.bin"
        collateral_path = Path(folder) / "collateral.json"
        runner = Path(folder) / "runner.py"
        quote_path.write_bytes(case.quote)
        collateral_path.write_bytes(case.collateral_json)
        runner.write_text(_COSMIAN_RUNNER)
        result = subprocess.run(
            [str(python), str(runner), str(quote_path), str(collateral_path),
             str(int(NOW.timestamp())), str(repeat)],
            check=False, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    if result.returncode != 0:
        return f"intel-sgx-ra failed: {result.stderr.strip().splitlines()[-1:]}"
    output = json.loads(result.stdout.strip().splitlines()[-1])
    if "error" in output:
        return f"intel-sgx-ra cannot verify this vector: {output['error']}"
    return Timing("intel-sgx-ra", tuple(output["samples"]))


# ----- main ------------------------------------------------------------------------------------


def _met(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"{'yes' if ratio <= target else 'NO'} (<= {target}x)"


def _run_case(case: Case, repeat: int, python: Path | str | None) -> None:
    now_seconds = int(NOW.timestamp())
    quote = case.quote
    collateral = Collateral.from_dcap_qvl_json(case.collateral_json)
    warm = verify_collateral(collateral, now=NOW)
    qvl_collateral = dcap_qvl.QuoteCollateralV3.from_json(case.collateral_json.decode())
    expected = verify_quote(quote, collateral, now=NOW).tcb_status.value
    assert dcap_qvl.verify(quote, qvl_collateral, now_seconds).status == expected

    timings = time_rows(
        {
            "dcap-qvl 0.7.0": lambda: dcap_qvl.verify(quote, qvl_collateral, now_seconds),
            "veil cold": lambda: verify_quote(quote, collateral, now=NOW),
            "veil warm": lambda: verify_quote(quote, warm, now=NOW),
        },
        repeat=repeat,
        rounds=ROUNDS,
    )
    notes = []
    if isinstance(python, Path):
        cosmian = time_cosmian(python, case, repeat)
        if isinstance(cosmian, str):
            notes.append(cosmian)
        else:
            timings.append(cosmian)
    baseline = timings[0].median
    rows: list[tuple[str, ...]] = [
        (
            t.name,
            ms(t.median),
            ms(t.p99),
            f"{t.median / baseline:.2f}x",
            _met(t.median / baseline, _TARGETS.get(t.name)),
        )
        for t in timings
    ]
    print_table(
        f"{case.name}: verify one quote at {NOW.isoformat()} ({repeat} calls, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})",
        ("verifier", "median CPU ms", "p99 CPU ms", "vs dcap-qvl", "target met"),
        rows,
    )
    for note in notes:
        print(f"  note: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300, help="timed calls per row")
    parser.add_argument("--skip-cosmian", action="store_true", help="do not run intel-sgx-ra")
    args = parser.parse_args()

    python = None if args.skip_cosmian else cosmian_python()
    if isinstance(python, str):
        print(python)
    for case in cases():
        _run_case(case, args.repeat, python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
