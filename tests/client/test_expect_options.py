"""``ExpectedApp.from_options``: what ``veil verify URL`` expects, from its options."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.owner.conftest import Packaged, package_app
from veil.client.expect import ExpectedApp, pinned_runtime
from veil.errors import ConfigError
from veil.identity.environment import simulated_image_reference

FINGERPRINT = "sha256:" + "ab" * 32
DIGEST = "cd" * 32
NOTES = Path(__file__).resolve().parent.parent / "e2e" / "apps" / "notes"


@pytest.fixture
def notes(tmp_path: Path) -> Packaged:
    return package_app(NOTES, tmp_path / "notes")


def test_nothing_given_expects_nothing() -> None:
    assert ExpectedApp.from_options() is None


def test_a_fingerprint_with_a_runtime_pin_and_an_image() -> None:
    image = simulated_image_reference()
    expected = ExpectedApp.from_options(
        fingerprint=FINGERPRINT, runtime_digest=DIGEST, runtime_version="9.9.9", image=image
    )
    assert expected is not None
    assert expected.fingerprint == FINGERPRINT
    assert expected.runtime == pinned_runtime(DIGEST, "9.9.9")
    assert expected.image == image


def test_a_package_gives_its_header(notes: Packaged) -> None:
    expected = ExpectedApp.from_options(package=notes.package)
    assert expected == ExpectedApp.from_package(notes.package)


def test_an_image_alone_is_expected_alone() -> None:
    image = simulated_image_reference()
    assert ExpectedApp.from_options(image=image) == ExpectedApp(image=image)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fingerprint": FINGERPRINT, "package": Path("a.veil")}, "at most one of"),
        ({"package": Path("a.veil"), "source": Path("src")}, "at most one of"),
        ({"runtime_digest": DIGEST}, "needs an expected app"),
        ({"runtime_version": "0.1.0", "fingerprint": FINGERPRINT}, "goes with --runtime-digest"),
        ({"runtime_digest": "xyz", "fingerprint": FINGERPRINT}, "runtime pin"),
    ],
)
def test_contradicting_options_are_config_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExpectedApp.from_options(**options)  # type: ignore[arg-type]


def test_no_runtime_pin_means_the_installed_runtime() -> None:
    assert pinned_runtime(None) is None
