"""Benchmark: veil package/decrypt throughput and peak memory against two baselines.

Shapes: one big random file (``--size-mib``, default 1 GiB) and a tree of small files
(``--files``, default 10 000, 0-8 KiB each). For each shape, in a fresh subprocess per case:

- ``baseline``: one SHA-256 pass and one AES-256-GCM pass (1 MiB pieces) over the same bytes,
  written to one output file: the floor for "hash + encrypt" in Python;
- ``veil-package`` / ``veil-decrypt``: ``write_package`` / ``decrypt_package``;
- ``cosmian-encrypt`` / ``cosmian-decrypt``: Cosmian's scheme, every file read whole and sealed
  on its own with XSalsa20-Poly1305 (PyNaCl ``SecretBox``), one output file per input file.

Reports MiB/s of app bytes and peak RSS growth over the process's size after imports.
Targets: veil-package >= 0.7x baseline on the big file, faster than Cosmian on both shapes,
peak RSS growth <= 64 MiB for the big file.

    .venv/bin/python -m bench.package                       # full size
    .venv/bin/python -m bench.package --size-mib 128 --files 2000   # quick run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from bench._harness import print_table

_MIB = 1024 * 1024
_PIECE = _MIB


def _make_big(root: Path, size_mib: int) -> int:
    root.mkdir(parents=True)
    with (root / "model.bin").open("wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(_MIB))
    return size_mib * _MIB


def _make_small(root: Path, files: int) -> int:
    rng = random.Random(1234)
    total = 0
    for i in range(files):
        path = root / f"pkg{i % 50:02d}" / f"sub{i % 7}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(rng.randint(0, 8192))
        path.write_bytes(data)
        total += len(data)
    return total


def _write_config(root: Path) -> None:
    (root / "veil.toml").write_text('name = "bench"\npython_application = "app:app"\n')


def _case_baseline(data: Path, out: Path) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    hasher = hashlib.sha256()
    counter = 0
    with (out / "baseline.bin").open("wb") as dst:
        for path in sorted(p for p in data.rglob("*") if p.is_file()):
            with path.open("rb") as src:
                while piece := src.read(_PIECE):
                    hasher.update(piece)
                    counter += 1
                    dst.write(aead.encrypt(counter.to_bytes(12, "big"), piece, None))


def _case_veil_package(data: Path, out: Path) -> None:
    from veil.crypto.keys import CodeKey, write_code_key
    from veil.package.encrypted import write_package
    from veil.package.source import AppSource

    key = CodeKey.generate()
    write_code_key(out / "bench.key", key)
    write_package(AppSource.load(data), out / "bench.veil", key=key)


def _case_veil_decrypt(data: Path, out: Path) -> None:
    from veil.crypto.keys import read_code_key
    from veil.package.encrypted import decrypt_package

    key = read_code_key(out / "bench.key")
    decrypt_package(out / "bench.veil", key=key, dest_dir=out / "decrypted")


def _case_cosmian_encrypt(data: Path, out: Path) -> None:
    import nacl.secret
    import nacl.utils

    key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    (out / "nacl.key").write_bytes(key)
    box = nacl.secret.SecretBox(key)
    for path in data.rglob("*"):
        if path.is_file():
            target = out / "nacl" / path.relative_to(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(box.encrypt(path.read_bytes()))


def _case_cosmian_decrypt(data: Path, out: Path) -> None:
    import nacl.secret

    box = nacl.secret.SecretBox((out / "nacl.key").read_bytes())
    source = out / "nacl"
    for path in source.rglob("*"):
        if path.is_file():
            target = out / "nacl-decrypted" / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(box.decrypt(path.read_bytes()))


_CASES: dict[str, Callable[[Path, Path], None]] = {
    "baseline": _case_baseline,
    "veil-package": _case_veil_package,
    "veil-decrypt": _case_veil_decrypt,
    "cosmian-encrypt": _case_cosmian_encrypt,
    "cosmian-decrypt": _case_cosmian_decrypt,
}


def _run_case_here(name: str, data: Path, out: Path) -> None:
    """Child side: import everything, note the RSS, run, report seconds and peak RSS."""
    import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401
    import nacl.secret  # noqa: F401

    import veil.package.encrypted
    import veil.package.source  # noqa: F401

    start_rss = psutil.Process().memory_info().rss
    started = time.perf_counter()
    _CASES[name](data, out)
    seconds = time.perf_counter() - started
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "start_rss": start_rss, "peak_rss": peak_rss}))


def _run_case(name: str, data: Path, out: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.package", "--case", name, str(data), str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def _shape(label: str, data: Path, app_bytes: int, work: Path) -> list[tuple[str, ...]]:
    _write_config(data)
    rows: list[tuple[str, ...]] = []
    results: dict[str, dict[str, float]] = {}
    for name in _CASES:
        results[name] = _run_case(name, data, work)
    for leftover in ("baseline.bin", "decrypted", "nacl", "nacl-decrypted"):
        path = work / leftover
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    base = results["baseline"]["seconds"]
    for name, r in results.items():
        growth = (r["peak_rss"] - r["start_rss"]) / _MIB
        rows.append(
            (
                label,
                name,
                f"{app_bytes / _MIB / r['seconds']:.0f}",
                f"{base / r['seconds']:.2f}x",
                f"{growth:.1f}",
            )
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="big file size (MiB)")
    parser.add_argument("--files", type=int, default=10_000, help="number of small files")
    parser.add_argument("--case", choices=sorted(_CASES), help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        _run_case_here(args.case, *args.paths)
        return 0
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="veil-bench-") as scratch:
        root = Path(scratch)
        big = root / "big"
        big_bytes = _make_big(big, args.size_mib)
        (root / "work-big").mkdir()
        rows += _shape(f"1 file, {args.size_mib} MiB", big, big_bytes, root / "work-big")
        shutil.rmtree(big)
        shutil.rmtree(root / "work-big")
        small = root / "small"
        small_bytes = _make_small(small, args.files)
        (root / "work-small").mkdir()
        label = f"{args.files} files, {small_bytes / _MIB:.0f} MiB"
        rows += _shape(label, small, small_bytes, root / "work-small")
    print_table(
        "veil package / decrypt vs. baseline (SHA-256 + AES-GCM) and Cosmian (per-file SecretBox)",
        ("shape", "case", "MiB/s", "vs baseline", "peak RSS growth MiB"),
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
