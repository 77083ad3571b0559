"""A user's verification of served evidence, against an in-process simulated enclave."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.owner.conftest import NOTES, Packaged, make_instance, package_app
from tests.ratls._certs import claims
from veil.attestation.errors import PolicyError
from veil.attestation.evidence import EvidenceDocument
from veil.attestation.result import Tee
from veil.cli.main import main
from veil.client.expect import ExpectedApp, runtime_pin
from veil.client.verify import verify_served_evidence
from veil.crypto.digest import sha256_tagged
from veil.errors import BindingError, ConfigError
from veil.identity.runtime import runtime_identity
from veil.package.encrypted import read_package_header

NONCE = b"u" * 32
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    return package_app(NOTES, tmp_path_factory.mktemp("notes"))


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    """The notes app with a changed file: another fingerprint, the same security config."""
    source = tmp_path_factory.mktemp("other-src") / "notes"
    shutil.copytree(NOTES, source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "notes.py").write_text((source / "notes.py").read_text() + "\n# changed\n")
    return package_app(source, tmp_path_factory.mktemp("other"))


def _evidence(package: Path, **doctored: object) -> EvidenceDocument:
    """Evidence over NONCE from an enclave running ``package``; ``doctored`` claims are what
    a lying runtime would sign instead of the truth (the document repeats them)."""
    instance = make_instance(package)
    if doctored:
        instance.claims = dataclasses.replace(instance.claims, **doctored)  # type: ignore[arg-type]
        # The lying runtime signs the doctored claims into the one certificate it attests.
        instance.bind_serving_key(instance._tls_key)
    return instance.evidence_document(nonce=NONCE)


def _verify(document: EvidenceDocument, expected: ExpectedApp | None) -> bool:
    served = verify_served_evidence(
        document, nonce=NONCE, expected=expected, allow_simulated_insecure=True, now=NOW
    )
    assert served.evidence.document == document
    return served.measurement_checked


def _fingerprint(packaged: Packaged) -> str:
    return read_package_header(packaged.package).fingerprint


def test_fingerprint_alone_recomputes_and_checks_the_measurement(notes: Packaged) -> None:
    assert _verify(_evidence(notes.package), ExpectedApp(fingerprint=_fingerprint(notes)))


def test_package_checks_the_measurement_too(notes: Packaged) -> None:
    assert _verify(_evidence(notes.package), ExpectedApp.from_package(notes.package))


def test_no_expectation_checks_no_measurement(notes: Packaged) -> None:
    assert not _verify(_evidence(notes.package), None)


def test_wrong_fingerprint_is_refused(notes: Packaged, other: Packaged) -> None:
    with pytest.raises(BindingError, match="not the expected"):
        _verify(_evidence(notes.package), ExpectedApp(fingerprint=_fingerprint(other)))


def test_enclave_claiming_the_expected_fingerprint_fails_the_measurement(
    notes: Packaged, other: Packaged
) -> None:
    """The runtime runs `notes` but claims `other`'s fingerprint: the quote's measurement,
    recomputed for `other`, does not match."""
    document = _evidence(notes.package, app_fingerprint=_fingerprint(other))
    with pytest.raises(PolicyError, match="not the expected runtime \\+ app"):
        _verify(document, ExpectedApp(fingerprint=_fingerprint(other)))


def test_doctored_security_config_claim_fails_the_measurement(notes: Packaged) -> None:
    document = _evidence(notes.package, security_config_digest=sha256_tagged(b"{}"))
    assert document.app.security_config_digest == sha256_tagged(b"{}")
    with pytest.raises(PolicyError, match="rule measurement"):
        _verify(document, ExpectedApp(fingerprint=_fingerprint(notes)))


def test_doctored_security_config_claim_is_named_when_the_config_is_known(
    notes: Packaged,
) -> None:
    document = _evidence(notes.package, security_config_digest=sha256_tagged(b"{}"))
    with pytest.raises(BindingError, match="security config is sha256:"):
        _verify(document, ExpectedApp.from_package(notes.package))


def test_replayed_evidence_is_refused(notes: Packaged) -> None:
    document = make_instance(notes.package).evidence_document(nonce=b"x" * 32)
    with pytest.raises(BindingError, match="nonce"):
        _verify(document, ExpectedApp(fingerprint=_fingerprint(notes)))


# --- pinning a runtime other than the installed one --------------------------------------------


def test_pinned_installed_runtime_verifies(notes: Packaged) -> None:
    installed = runtime_identity()
    pin = runtime_pin(installed.digest.removeprefix("sha256:"), installed.version)
    assert pin == installed
    expected = ExpectedApp(fingerprint=_fingerprint(notes), runtime=pin)
    assert _verify(_evidence(notes.package), expected)


def test_pinned_other_runtime_refuses_the_installed_one(notes: Packaged) -> None:
    pin = runtime_pin("sha256:" + "ab" * 32)
    expected = ExpectedApp(fingerprint=_fingerprint(notes), runtime=pin)
    with pytest.raises(BindingError, match=r"not the trusted .* \(sha256:abab"):
        _verify(_evidence(notes.package), expected)


def test_pinned_runtime_of_another_version_is_refused(notes: Packaged) -> None:
    installed = runtime_identity()
    pin = runtime_pin(installed.digest, "9.9.9")
    with pytest.raises(BindingError, match=r"not the trusted 9\.9\.9"):
        _verify(_evidence(notes.package), ExpectedApp(fingerprint=_fingerprint(notes), runtime=pin))


def test_pinned_runtime_measurement_is_checked_even_past_the_claims(notes: Packaged) -> None:
    """A runtime that claims the pinned identity while being another is caught by the quote."""
    pin = runtime_pin("sha256:" + "cd" * 32)
    document = _evidence(notes.package, runtime_digest=pin.digest)
    with pytest.raises(PolicyError, match="rule measurement"):
        _verify(document, ExpectedApp(fingerprint=_fingerprint(notes), runtime=pin))


@pytest.mark.parametrize("digest", ["sha256:xyz", "ab" * 31, "md5:" + "ab" * 32, ""])
def test_bad_runtime_pin_is_a_config_error(digest: str) -> None:
    with pytest.raises(ConfigError, match="invalid runtime pin"):
        runtime_pin(digest)


def test_sgx_fingerprint_alone_cannot_recompute_mrenclave() -> None:
    expected = ExpectedApp(fingerprint=claims().app_fingerprint)
    assert expected.expected_measurement_for(Tee.SGX, claims=claims()) is None
    assert expected.expected_measurement_for(Tee.SIMULATED, claims=claims()) is not None
    assert expected.expected_measurement_for(Tee.SIMULATED, claims=None) is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--runtime-version", "0.1.0"], "--runtime-version goes with --runtime-digest"),
        (["--runtime-digest", "ab" * 32], "needs an expected app"),
        (["--runtime-digest", "xyz", "--fingerprint", "sha256:" + "ab" * 32], "runtime pin"),
    ],
)
def test_runtime_pin_options_are_checked_before_connecting(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 on loopback: any attempt to connect would fail with another message.
    assert main(["verify", "https://127.0.0.1:1", *extra]) == 5
    assert message in " ".join(capsys.readouterr().err.split())
