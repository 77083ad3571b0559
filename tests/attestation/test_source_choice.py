"""The one choice of a collateral source (``veil.attestation.sources.choice``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.attestation.sources.cache import CachingCollateralSource
from veil.attestation.sources.choice import choose_collateral_source
from veil.attestation.sources.file import FileCollateralSource
from veil.attestation.sources.pccs import PccsSource
from veil.attestation.sources.pcs import IntelPcsSource
from veil.errors import ConfigError

PCCS_URL = "https://pccs.example:8081/sgx/certification/v4/"


def test_nothing_named_is_no_source() -> None:
    assert choose_collateral_source() is None
    assert choose_collateral_source(cache_dir=Path("unused")) is None


def test_a_file_is_read_as_given_never_cached(tmp_path: Path) -> None:
    source = choose_collateral_source(file=tmp_path / "bundle.json", cache_dir=tmp_path)
    assert isinstance(source, FileCollateralSource)
    assert source.path == tmp_path / "bundle.json"


def test_remote_sources_are_cached_only_with_a_cache_dir(tmp_path: Path) -> None:
    assert isinstance(choose_collateral_source(pcs=True), IntelPcsSource)
    assert isinstance(choose_collateral_source(pccs_url=PCCS_URL), PccsSource)
    cached = choose_collateral_source(pccs_url=PCCS_URL, cache_dir=tmp_path)
    assert isinstance(cached, CachingCollateralSource)
    assert isinstance(cached.inner, PccsSource)
    assert cached.directory == tmp_path


@pytest.mark.parametrize(
    "options",
    [
        {"file": Path("c.json"), "pcs": True},
        {"file": Path("c.json"), "pccs_url": PCCS_URL},
        {"pccs_url": PCCS_URL, "pcs": True},
    ],
)
def test_two_sources_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="at most one collateral source"):
        choose_collateral_source(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("options", [{}, {"pcs": True}, {"file": Path("c.json")}])
def test_a_pccs_ca_file_without_a_pccs_is_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="only meaningful with a PCCS URL"):
        choose_collateral_source(pccs_ca_file="ca.pem", **options)  # type: ignore[arg-type]


def test_a_pccs_url_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PCCS URL must be http"):
        choose_collateral_source(pccs_url="file:///etc/passwd")


def test_an_unreadable_pccs_ca_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot use the PCCS CA file"):
        choose_collateral_source(pccs_url=PCCS_URL, pccs_ca_file=str(tmp_path / "missing.pem"))
