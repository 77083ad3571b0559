"""Fuzz harness: an app archive (veil's restricted tar) extracted into a new directory."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from fuzz._harness import Harness, main, typed
from fuzz._veil_inputs import app_package
from veil.package.extract import extract_archive


def fuzz_one(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="veil-fuzz-") as directory, typed():
        extract_archive(io.BytesIO(data), Path(directory) / "app")


def seeds(vectors: Path) -> list[bytes]:
    return [app_package()[1]]


HARNESS = Harness(fuzz_one, seeds)

if __name__ == "__main__":
    main(HARNESS)
