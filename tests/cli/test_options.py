"""The shared options of ``veil.cli._options``: one parser each, one rule each."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from veil.attestation.sources.cache import CachingCollateralSource
from veil.attestation.sources.file import FileCollateralSource
from veil.cli import _options
from veil.errors import ConfigError, OperationError
from veil.host.homes import OperatorHome
from veil.host.simulation import simulation_root_public_key
from veil.identity.environment import python_environment


def _parse(add: object, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add(parser)  # type: ignore[operator]
    return parser.parse_args(list(argv))


def test_at_takes_rfc3339_with_a_time_zone() -> None:
    args = _parse(_options.add_at_option, "--at", "2025-06-27T04:53:20Z")
    assert _options.at(args) == datetime(2025, 6, 27, 4, 53, 20, tzinfo=UTC)
    offset = _options.parse_at("2025-06-27T06:53:20+02:00")
    assert offset.utcoffset() == timedelta(hours=2)
    assert offset == datetime(2025, 6, 27, 4, 53, 20, tzinfo=UTC)


def test_at_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ConfigError, match="give a time zone"):
        _options.parse_at("2025-06-27T04:53:20")


def test_at_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(ConfigError, match="not an RFC 3339 date-time"):
        _options.parse_at("yesterday")


def test_at_defaults_to_now() -> None:
    before = datetime.now(UTC)
    value = _options.at(_parse(_options.add_at_option))
    assert before <= value <= datetime.now(UTC)


def test_json_is_a_flag() -> None:
    assert _parse(_options.add_json_option, "--json").json is True
    assert _parse(_options.add_json_option).json is False


def test_port_is_checked_by_argparse() -> None:
    assert _options.port_number("8443") == 8443
    for bad in ("0", "65536", "http"):
        with pytest.raises(argparse.ArgumentTypeError):
            _options.port_number(bad)


def test_image_reads_the_reference_file(tmp_path: Path) -> None:
    assert _options.image(_parse(_options.add_image_option)) is None
    reference = python_environment().reference()
    path = tmp_path / "image.json"
    path.write_text(json.dumps(reference.to_json()))
    assert _options.image(_parse(_options.add_image_option, "--image", str(path))) == reference
    missing = _parse(_options.add_image_option, "--image", str(tmp_path / "missing.json"))
    with pytest.raises(OperationError, match=r"missing\.json"):
        _options.image(missing)


def test_nonce_is_hex() -> None:
    assert _options.nonce(_parse(_options.add_nonce_option)) is None
    assert _options.nonce(_parse(_options.add_nonce_option, "--nonce", "00ff" * 8)) == (
        b"\x00\xff" * 8
    )
    with pytest.raises(ConfigError, match="--nonce"):
        _options.nonce(_parse(_options.add_nonce_option, "--nonce", "not hex"))


def test_simulation_root_is_pinned_only_when_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEIL_HOME", str(tmp_path / "home"))
    add = _options.add_simulation_options
    assert _options.simulation_root(_parse(add)) is None  # not accepted: nothing to pin
    accepted = _parse(add, "--allow-simulated-insecure")
    assert _options.simulation_root(accepted) is None  # no local root yet: none is created
    assert not OperatorHome.from_env().simulation_root.exists()
    key = simulation_root_public_key(OperatorHome.from_env())
    assert _options.simulation_root(accepted) == key
    evidence = _parse(add, "--allow-simulated-insecure", "--simulation-root", "evidence")
    assert _options.simulation_root(evidence) is None
    bogus = _parse(add, "--allow-simulated-insecure", "--simulation-root", "mine")
    with pytest.raises(ConfigError, match="--simulation-root"):
        _options.simulation_root(bogus)


def test_vendoring_options_pick_the_wheel_store(tmp_path: Path) -> None:
    args = _parse(_options.add_vendoring_options, "--wheels-from", str(tmp_path), "--no-index")
    assert args.wheels_from == [tmp_path]
    assert args.no_index is True
    assert _options.wheel_store(args) is not None
    cacheless = _parse(_options.add_vendoring_options, "--no-wheel-cache")
    assert _options.wheel_store(cacheless) is None


def test_operator_tls_needs_both_files() -> None:
    def args(cert: str | None, key: str | None) -> argparse.Namespace:
        return argparse.Namespace(untrusted_ssl_cert=cert, untrusted_ssl_key=key)

    assert _options.operator_tls(args(None, None)) is None
    assert _options.operator_tls(args("c.pem", "k.pem")) == (Path("c.pem"), Path("k.pem"))
    with pytest.raises(ConfigError, match="go together"):
        _options.operator_tls(args("c.pem", None))


def _collateral_args(**given: object) -> argparse.Namespace:
    return argparse.Namespace(
        **{"collateral": None, "pccs_url": None, "pccs_ca_file": None, "pcs": False, **given}
    )


def test_collateral_source_is_the_library_choice(tmp_path: Path) -> None:
    assert _options.collateral_source(_collateral_args()) is None
    chosen = _options.collateral_source(_collateral_args(collateral="c.json"))
    assert isinstance(chosen, FileCollateralSource)
    assert chosen.path == Path("c.json")
    cached = _options.collateral_source(_collateral_args(pcs=True), cache_dir=tmp_path)
    assert isinstance(cached, CachingCollateralSource)
    # A command without --pcs or --collateral (`veil attest collateral fetch`) reads as absent.
    assert _options.collateral_source(argparse.Namespace(pccs_url=None)) is None


def test_pccs_ca_file_goes_with_pccs_url() -> None:
    with pytest.raises(ConfigError, match="--pccs-ca-file goes with --pccs-url"):
        _options.collateral_source(_collateral_args(pcs=True, pccs_ca_file="ca.pem"))
