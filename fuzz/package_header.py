"""Fuzz harness: the clear header and trailer of a ``.veil`` package file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fuzz._harness import Harness, main, typed
from fuzz._veil_inputs import app_package
from veil.package.encrypted import read_package_header


def fuzz_one(data: bytes) -> None:
    # Through the file reader: it decides how much header to read from the declared size.
    with tempfile.NamedTemporaryFile(prefix="veil-fuzz-", suffix=".veil") as file:
        file.write(data)
        file.flush()
        with typed():
            read_package_header(Path(file.name))


def seeds(vectors: Path) -> list[bytes]:
    return [app_package()[0]]


HARNESS = Harness(fuzz_one, seeds)

if __name__ == "__main__":
    main(HARNESS)
