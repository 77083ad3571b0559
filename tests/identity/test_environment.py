"""The simulated image: the digest of a Python environment, its encoding and its scan."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import pytest

from veil.attestation.result import Tee
from veil.identity.environment import (
    Distribution,
    PythonEnvironment,
    python_environment,
    simulated_image_reference,
)
from veil.identity.reference import ImageReference

RECORD = b"demo/__init__.py,sha256=AAAA,10\ndemo-1.0.dist-info/RECORD,,\n"


def _environment(*distributions: Distribution) -> PythonEnvironment:
    return PythonEnvironment(
        implementation="cpython",
        python_version="3.11.7 (main) [GCC]",
        platform="linux-x86_64",
        distributions=distributions,
    )


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(8, "big") + value


def test_image_is_the_documented_encoding() -> None:
    record = hashlib.sha256(RECORD).digest()
    demo = Distribution(name="demo", version="1.0", record_sha256=record)
    legacy = Distribution(name="legacy", version="0.1", record_sha256=b"")
    expected = hashlib.sha384(
        b"veil/simulated-image/v1\x00"
        + _field(b"cpython")
        + _field(b"3.11.7 (main) [GCC]")
        + _field(b"linux-x86_64")
        + (2).to_bytes(8, "big")
        + _field(b"demo")
        + _field(b"1.0")
        + _field(record)
        + _field(b"legacy")
        + _field(b"0.1")
        + _field(b"")
    ).digest()
    assert _environment(legacy, demo).image() == expected
    assert _environment(demo, legacy).image() == expected


@pytest.mark.parametrize(
    "change",
    [
        Distribution(name="demo", version="1.1", record_sha256=bytes(32)),
        Distribution(name="demo", version="1.0", record_sha256=b"\x01" * 32),
        Distribution(name="demo", version="1.0", record_sha256=b""),
        Distribution(name="demo2", version="1.0", record_sha256=bytes(32)),
    ],
)
def test_every_distribution_field_counts(change: Distribution) -> None:
    base = _environment(Distribution(name="demo", version="1.0", record_sha256=bytes(32)))
    assert _environment(change).image() != base.image()
    assert _environment().image() != base.image()


def test_scan_reads_dist_info_and_egg_info_and_leaves_veil_out(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "Demo_Pkg-1.0.dist-info").mkdir(parents=True)
    (site / "Demo_Pkg-1.0.dist-info" / "RECORD").write_bytes(RECORD)
    (site / "legacy-0.1-py3.11.egg-info").write_text("Metadata-Version: 1.0\n")
    (site / "veil-9.9.dist-info").mkdir()
    (site / "veil-9.9.dist-info" / "RECORD").write_bytes(b"anything")
    (site / "module.py").write_text("")
    found = python_environment([str(site), str(tmp_path / "missing"), str(tmp_path / "a.zip")])
    assert found.distributions == (
        Distribution(name="demo-pkg", version="1.0", record_sha256=hashlib.sha256(RECORD).digest()),
        Distribution(name="legacy", version="0.1-py3.11", record_sha256=b""),
    )
    assert found.implementation == sys.implementation.name


def test_a_changed_record_changes_the_image(tmp_path: Path) -> None:
    info = tmp_path / "demo-1.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_bytes(RECORD)
    before = python_environment([str(tmp_path)]).image()
    (info / "RECORD").write_bytes(RECORD.replace(b"AAAA", b"BBBB"))
    assert python_environment([str(tmp_path)]).image() != before


def test_this_interpreter_is_deterministic_and_cheap() -> None:
    python_environment()  # warm the file system caches, as a node start after install would
    start = time.perf_counter()
    first = python_environment()
    elapsed = time.perf_counter() - start
    assert python_environment().image() == first.image()
    assert any(item.name == "cryptography" for item in first.distributions)
    assert not any(item.name == "veil" for item in first.distributions)
    # Well under the 100 ms budget at node start; generous here for slow CI machines.
    assert elapsed < 1.0


def test_reference_document_round_trips() -> None:
    reference = simulated_image_reference()
    assert reference.tee is Tee.SIMULATED
    assert reference.provenance is None
    assert reference.registers == {"image": python_environment().image().hex()}
    parsed = ImageReference.from_json(json.dumps(reference.to_json()).encode())
    assert parsed == reference
    assert "simulated" in parsed.describe()
