"""The local wheel cache: reuse for fully pinned requirements only, every wheel hashed on use."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.cli.main import main
from veil.package import vendor
from veil.package._pins import is_pinned_wheel, parse_pins
from veil.package.config import DependencyConfig
from veil.package.fingerprint import fingerprint_source
from veil.package.lock import LockedWheel, WheelLock
from veil.package.source import prepared_source
from veil.package.vendor import ResolutionRequest, VendorError, vendor_dependencies
from veil.package.wheel_cache import WheelCache, cache_root, resolution_key

from ._helpers import MINIMAL_TOML, build_wheel, make_app

DEPS_TOML = MINIMAL_TOML + '[dependencies]\nrequirements = "requirements.txt"\n'
PINNED = "tinydep==1.0\ntoplib==2.0\n"
#: What the fake pip resolves each top-level name to (toplib depends on tinydep).
CLOSURE = {"toplib": ("toplib", "tinydep"), "tinydep": ("tinydep",), "unused": ("unused",)}


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    directory = tmp_path / "wheels"
    build_wheel(directory, "tinydep")
    build_wheel(directory, "toplib", "2.0", requires=("tinydep>=1",))
    build_wheel(directory, "unused")
    return directory


@pytest.fixture
def pip_runs(monkeypatch: pytest.MonkeyPatch) -> list[ResolutionRequest]:
    """Replace pip by a tiny resolver over the test wheelhouse; record every run."""
    runs: list[ResolutionRequest] = []

    def fake_pip(request: ResolutionRequest, requirements: Path, wheels_dir: Path) -> None:
        runs.append(request)
        names = {
            re.split(r"[=<>\s#]", line.strip())[0] for line in request.requirements.splitlines()
        }
        for name in sorted(names - {""}):
            for dist in CLOSURE[name]:
                for wheel in request.find_links[0].glob(f"{dist}-*.whl"):
                    shutil.copyfile(wheel, wheels_dir / wheel.name)

    monkeypatch.setattr(vendor, "_pip_download", fake_pip)
    return runs


def _app(root: Path, requirements: str) -> Path:
    return make_app(root, {"requirements.txt": requirements}, toml=DEPS_TOML)


def _fingerprint(root: Path, wheelhouse: Path, cache: WheelCache | None) -> str:
    with prepared_source(root, find_links=[wheelhouse], no_index=True, wheel_store=cache) as source:
        return fingerprint_source(source).fingerprint


def _blobs(cache: WheelCache) -> list[Path]:
    return sorted((cache.root / "wheels" / "sha256").iterdir())


def test_real_pip_then_cache_gives_the_same_package(tmp_path: Path, wheelhouse: Path) -> None:
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", PINNED)
    first = _fingerprint(root, wheelhouse, cache)  # real pip, recorded
    assert len(_blobs(cache)) == 2
    assert first == _fingerprint(root, wheelhouse, cache)
    assert first == _fingerprint(root, wheelhouse, None)


def test_pinned_requirements_run_pip_once(
    tmp_path: Path, wheelhouse: Path, pip_runs: list[ResolutionRequest]
) -> None:
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", PINNED)
    fingerprints = {_fingerprint(root, wheelhouse, cache) for _ in range(3)}
    assert len(pip_runs) == 1
    assert len(fingerprints) == 1
    blob_names = [p.name for p in _blobs(cache)]
    for wheel in ("tinydep-1.0-py3-none-any.whl", "toplib-2.0-py3-none-any.whl"):
        assert hashlib.sha256((wheelhouse / wheel).read_bytes()).hexdigest() in blob_names


@pytest.mark.parametrize(
    "requirements",
    [
        "toplib>=2\n",  # a range
        "toplib==2.0\n",  # tinydep comes in unpinned
        "toplib==2.*\ntinydep==1.0\n",  # a wildcard
    ],
)
def test_requirements_not_fully_pinned_always_run_pip(
    tmp_path: Path, wheelhouse: Path, pip_runs: list[ResolutionRequest], requirements: str
) -> None:
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", requirements)
    assert _fingerprint(root, wheelhouse, cache) == _fingerprint(root, wheelhouse, cache)
    assert len(pip_runs) == 2
    assert not (cache.root / "resolutions").exists()


def _deps() -> DependencyConfig:
    return DependencyConfig(requirements="requirements.txt")


def test_tampered_cached_wheel_is_discarded_and_pip_runs_again(
    tmp_path: Path,
    wheelhouse: Path,
    pip_runs: list[ResolutionRequest],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", PINNED)
    honest = _fingerprint(root, wheelhouse, cache)
    blob = _blobs(cache)[0]
    blob.write_bytes(blob.read_bytes() + b"tampered")
    with caplog.at_level(logging.WARNING, logger="veil.package.wheel_cache"):
        assert _fingerprint(root, wheelhouse, cache) == honest
    assert "does not match its digest" in caplog.text
    assert len(pip_runs) == 2
    # The discarded wheel came back from pip, intact.
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    assert _fingerprint(root, wheelhouse, cache) == honest
    assert len(pip_runs) == 2


def test_missing_cached_wheel_falls_back_to_pip(
    tmp_path: Path, wheelhouse: Path, pip_runs: list[ResolutionRequest]
) -> None:
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", PINNED)
    honest = _fingerprint(root, wheelhouse, cache)
    _blobs(cache)[1].unlink()
    assert _fingerprint(root, wheelhouse, cache) == honest
    assert len(pip_runs) == 2


def test_symlinked_cached_wheel_is_not_followed(
    tmp_path: Path, wheelhouse: Path, pip_runs: list[ResolutionRequest]
) -> None:
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", "tinydep==1.0\n")
    honest = _fingerprint(root, wheelhouse, cache)
    [blob] = _blobs(cache)
    blob.unlink()
    blob.symlink_to(wheelhouse / "tinydep-1.0-py3-none-any.whl")  # right bytes, wrong kind
    assert _fingerprint(root, wheelhouse, cache) == honest
    assert len(pip_runs) == 2
    assert not blob.is_symlink()
    assert blob.is_file()


def _record(cache: WheelCache, root: Path, wheelhouse: Path) -> Path:
    [record] = (cache.root / "resolutions").iterdir()
    request = ResolutionRequest(
        requirements=(root / "requirements.txt").read_text("utf-8"),
        find_links=(wheelhouse,),
        no_index=True,
        platforms=(),
        python_version=None,
        python=sys.executable,
    )
    assert record.name == f"{resolution_key(request)}.json"
    return record


def test_record_naming_an_unpinned_wheel_is_not_reused(
    tmp_path: Path, wheelhouse: Path, pip_runs: list[ResolutionRequest]
) -> None:
    """A record (say, planted in the cache) may only name wheels the requirements pin."""
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", PINNED)
    honest = _fingerprint(root, wheelhouse, cache)
    record = _record(cache, root, wheelhouse)
    planted = build_wheel(tmp_path / "evil", "toplib", "3.0")
    digest = hashlib.sha256(planted.read_bytes()).hexdigest()
    shutil.copyfile(planted, cache.root / "wheels" / "sha256" / digest)
    lock = WheelLock.from_json(record.read_bytes())
    swapped = [w for w in lock.wheels if not w.filename.startswith("toplib")]
    swapped.append(LockedWheel(planted.name, f"sha256:{digest}"))
    record.write_bytes(WheelLock(tuple(sorted(swapped))).to_json())
    assert _fingerprint(root, wheelhouse, cache) == honest
    assert len(pip_runs) == 2


def test_hash_pins_are_enforced_on_reuse(
    tmp_path: Path, wheelhouse: Path, pip_runs: list[ResolutionRequest]
) -> None:
    good = hashlib.sha256((wheelhouse / "tinydep-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", f"tinydep==1.0 --hash=sha256:{good}\n")
    honest = _fingerprint(root, wheelhouse, cache)
    record = _record(cache, root, wheelhouse)
    # Same name and version, other bytes, consistent blob: still refused, it is not the pinned hash.
    other = build_wheel(tmp_path / "other", "tinydep")
    other.write_bytes(other.read_bytes() + b"\0")
    digest = hashlib.sha256(other.read_bytes()).hexdigest()
    shutil.copyfile(other, cache.root / "wheels" / "sha256" / digest)
    record.write_bytes(WheelLock((LockedWheel(other.name, f"sha256:{digest}"),)).to_json())
    assert _fingerprint(root, wheelhouse, cache) == honest
    assert len(pip_runs) == 2


def test_corrupt_record_is_ignored_and_rewritten(
    tmp_path: Path, wheelhouse: Path, pip_runs: list[ResolutionRequest]
) -> None:
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", PINNED)
    honest = _fingerprint(root, wheelhouse, cache)
    record = _record(cache, root, wheelhouse)
    record.write_bytes(b"{not json")
    assert _fingerprint(root, wheelhouse, cache) == honest
    assert _fingerprint(root, wheelhouse, cache) == honest
    assert len(pip_runs) == 2


def test_a_changed_wheelhouse_resolves_afresh(
    tmp_path: Path, wheelhouse: Path, pip_runs: list[ResolutionRequest]
) -> None:
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", PINNED)
    _fingerprint(root, wheelhouse, cache)
    build_wheel(wheelhouse, "newcomer")
    _fingerprint(root, wheelhouse, cache)
    assert len(pip_runs) == 2
    (root / "requirements.txt").write_text(PINNED + "# a comment\n", "utf-8")
    _fingerprint(root, wheelhouse, cache)
    assert len(pip_runs) == 3


def test_unwritable_cache_does_not_fail_packaging(
    tmp_path: Path,
    wheelhouse: Path,
    pip_runs: list[ResolutionRequest],
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "cache").write_text("a file, not a directory", "utf-8")
    cache = WheelCache(tmp_path / "cache")
    root = _app(tmp_path / "app", PINNED)
    with caplog.at_level(logging.WARNING, logger="veil.package.wheel_cache"):
        first = _fingerprint(root, wheelhouse, cache)
    assert "cannot write the wheel cache" in caplog.text
    assert _fingerprint(root, wheelhouse, cache) == first
    assert len(pip_runs) == 2


class _LyingStore:
    """A store whose wheels differ from the lock it returns."""

    def reuse(self, request: ResolutionRequest, dest: Path) -> WheelLock | None:
        (dest / "tinydep-1.0-py3-none-any.whl").write_bytes(b"not the wheel")
        return WheelLock((LockedWheel("tinydep-1.0-py3-none-any.whl", "sha256:" + "00" * 32),))

    def record(self, request: ResolutionRequest, lock: WheelLock, wheels_dir: Path) -> None:
        raise AssertionError("nothing to record")


def test_vendoring_rehashes_whatever_a_store_returns(tmp_path: Path, wheelhouse: Path) -> None:
    root = _app(tmp_path / "app", PINNED)
    with pytest.raises(VendorError, match="differ from its lock"):
        vendor_dependencies(root, _deps(), scratch=tmp_path / "s", store=_LyingStore())


def test_another_interpreter_has_no_key() -> None:
    request = ResolutionRequest(PINNED, (), False, (), None, "/usr/bin/some-other-python")
    assert resolution_key(request) is None


def test_cache_root() -> None:
    home = Path("/home/me")
    assert cache_root({"XDG_CACHE_HOME": "/var/cache/me"}, home) == Path("/var/cache/me/veil")
    assert cache_root({"XDG_CACHE_HOME": "relative"}, home) == home / ".cache" / "veil"
    assert cache_root({}, home) == home / ".cache" / "veil"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("a==1\nB_c[x]==2.0 ; python_version >= '3'\n", {"a", "b-c"}),
        ("# header\na==1  # why\n\n", {"a"}),
        ("a==1 \\\n    --hash=sha256:" + "a" * 64 + " \\\n    --hash sha256:" + "b" * 64, {"a"}),
    ],
)
def test_pins_parsed(text: str, names: set[str]) -> None:
    pins = parse_pins(text)
    assert pins is not None
    assert set(pins) == names


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "a>=1\n",
        "a==1.*\n",
        "a==1,!=1.1\n",
        "a\n",
        "a==1\na==1\n",
        "-r other.txt\n",
        "--index-url https://example.invalid\na==1\n",
        "a @ https://example.invalid/a-1-py3-none-any.whl\n",
        "a==1 --hash=sha512:" + "a" * 128 + "\n",
        "a==1 --hash=sha256:short\n",
        "a==1 --config-settings=x=y\n",
        "not a requirement ==\n",
    ],
)
def test_not_fully_pinned(text: str) -> None:
    assert parse_pins(text) is None


def test_pinned_wheel_checks_name_version_and_hash() -> None:
    digest = "c" * 64
    pins = parse_pins(f"a==1.0 --hash=sha256:{digest}\nb==2\n")
    assert pins is not None
    assert is_pinned_wheel("a-1.0-py3-none-any.whl", digest, pins)
    assert is_pinned_wheel("a-1-py3-none-any.whl", digest.upper(), pins)
    assert not is_pinned_wheel("a-1.0-py3-none-any.whl", "d" * 64, pins)
    assert not is_pinned_wheel("a-1.1-py3-none-any.whl", digest, pins)
    assert is_pinned_wheel("b-2.0-py3-none-any.whl", "e" * 64, pins)
    assert not is_pinned_wheel("c-1-py3-none-any.whl", digest, pins)
    assert not is_pinned_wheel("not a wheel", digest, pins)


@given(st.text())
def test_parse_pins_never_raises(text: str) -> None:
    pins = parse_pins(text)
    assert pins is None or all(p.specifier.operator == "==" for p in pins.values())


def test_cli_records_in_the_cache_unless_told_not_to(
    tmp_path: Path, wheelhouse: Path, pip_runs: list[ResolutionRequest]
) -> None:
    root = _app(tmp_path / "app", PINNED)
    common = ["fingerprint", str(root), "--wheels-from", str(wheelhouse), "--no-index", "--json"]
    assert main([*common, "--no-wheel-cache"]) == 0
    assert not cache_root(os.environ, Path.home()).exists()
    assert main(common) == 0
    assert main(common) == 0
    assert len(pip_runs) == 2
    assert (cache_root(os.environ, Path.home()) / "resolutions").is_dir()
