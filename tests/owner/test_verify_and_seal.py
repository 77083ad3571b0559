from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.owner.conftest import Packaged, make_instance
from tests.ratls._certs import claims as make_claims
from veil.attestation.errors import PolicyError
from veil.attestation.simulated import SimulationRoot
from veil.client.expect import ExpectedApp, check_claims
from veil.crypto.keys import CodeKey
from veil.enclave.serving_tls import ServingTls
from veil.errors import BindingError, ConfigError, FormatError, VerificationError
from veil.identity.runtime import RuntimeIdentity, runtime_identity
from veil.owner.seal import OwnerTls, build_payload, read_app_secrets, seal_for_enclave
from veil.owner.verify import PackageMismatchError, read_evidence_file, verify_owner_evidence
from veil.sealing.envelope import unseal
from veil.sealing.secrets import SecretsPayload

NOW = datetime.now(UTC)


def _verify(notes: Packaged, **kwargs: object):  # type: ignore[no-untyped-def]
    instance = make_instance(notes.package)
    document = instance.evidence_document(nonce=b"n" * 32)
    options: dict[str, object] = {"allow_simulated_insecure": True, "now": NOW, **kwargs}
    return instance, verify_owner_evidence(document, notes.package, **options)  # type: ignore[arg-type]


def test_evidence_verifies_against_its_package(notes: Packaged) -> None:
    instance, enclave = _verify(notes)
    assert enclave.fingerprint == instance.header.fingerprint
    assert enclave.instance_id == instance.spec.instance_id
    assert enclave.instance_binding() == instance.binding
    assert enclave.to_json()["tee"] == "simulated"


def test_simulated_evidence_is_refused_by_default(notes: Packaged) -> None:
    with pytest.raises(PolicyError, match="simulated"):
        _verify(notes, allow_simulated_insecure=False)


def test_another_package_is_refused(notes: Packaged, other_app: Packaged) -> None:
    instance = make_instance(other_app.package)
    with pytest.raises(PackageMismatchError, match="runs another package"):
        verify_owner_evidence(
            instance.evidence_document(), notes.package, now=NOW, allow_simulated_insecure=True
        )


def test_pinned_simulation_root_must_match(notes: Packaged) -> None:
    other_root = SimulationRoot.generate().public_key_bytes()
    with pytest.raises(VerificationError):
        _verify(notes, simulation_root_public_key=other_root)


def test_expired_certificate_is_refused(notes: Packaged) -> None:
    with pytest.raises(VerificationError):
        _verify(notes, now=NOW + timedelta(days=3650))


def test_runtime_other_than_the_trusted_one_is_named() -> None:
    trusted = RuntimeIdentity(version="0.1.0", digest="sha256:" + "aa" * 32)
    claims = make_claims(
        app_fingerprint="sha256:" + "bb" * 32,
        runtime_version="0.1.0",
        runtime_digest="sha256:" + "cc" * 32,
    )
    expected = ExpectedApp(fingerprint="sha256:" + "bb" * 32, runtime=trusted)
    with pytest.raises(BindingError, match=r"not the trusted 0\.1\.0"):
        check_claims(claims, expected)
    with pytest.raises(BindingError, match="not the expected"):
        check_claims(claims, ExpectedApp(fingerprint="sha256:" + "dd" * 32, runtime=trusted))


def test_pinned_runtime_replaces_the_installed_one(notes: Packaged) -> None:
    installed = runtime_identity()
    _verify(notes, runtime=installed)
    other = RuntimeIdentity(version=installed.version, digest="sha256:" + "ee" * 32)
    with pytest.raises(BindingError, match=r"not the trusted 0\.1\.0 \(sha256:eeee"):
        _verify(notes, runtime=other)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", 1),
        ("created_at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("app_name", "notes-2"),
        ("security_config_digest", "sha256:" + "00" * 32),
    ],
)
def test_edited_evidence_field_is_refused(notes: Packaged, field: str, value: object) -> None:
    """Port, creation time, app name and security-config digest are signed claims now."""
    instance = make_instance(notes.package)
    document = instance.evidence_document(nonce=b"n" * 32)
    section = "app" if field in ("app_name", "security_config_digest") else "deployment"
    attribute = field.removeprefix("app_")
    edited = replace(
        document,
        **{section: replace(getattr(document, section), **{attribute: value})},
    )
    with pytest.raises(VerificationError):
        verify_owner_evidence(edited, notes.package, now=NOW, allow_simulated_insecure=True)


def test_sealed_secrets_open_only_for_that_instance(notes: Packaged) -> None:
    instance, enclave = _verify(notes)
    payload = build_payload(enclave, code_key=notes.key, app_secrets={"TOKEN": "s3cret"}, now=NOW)
    envelope = seal_for_enclave(enclave, payload)
    opened = SecretsPayload.from_bytes(
        unseal(envelope, recipient=instance.sealing_key, binding=instance.binding)
    )
    assert opened.app_secrets == {"TOKEN": "s3cret"}
    assert opened.code_key == notes.key
    assert opened.package_fingerprint == instance.header.fingerprint
    assert b"s3cret" not in envelope
    second = make_instance(notes.package)
    with pytest.raises(Exception, match="decryption failed"):
        unseal(envelope, recipient=second.sealing_key, binding=second.binding)


def test_wrong_code_key_is_refused_before_sealing(notes: Packaged) -> None:
    _, enclave = _verify(notes)
    with pytest.raises(BindingError, match="not the package's key"):
        build_payload(enclave, code_key=CodeKey.generate())


def test_tls_key_is_refused_for_a_zero_trust_app(notes: Packaged) -> None:
    _, enclave = _verify(notes)
    tls = OwnerTls(certificate_chain_pem=b"x", private_key_pem=b"PRIVATE-KEY-BYTES")
    with pytest.raises(ConfigError, match="takes no owner certificate"):
        build_payload(enclave, code_key=notes.key, tls=tls)
    assert "PRIVATE-KEY-BYTES" not in repr(tls)


@pytest.mark.parametrize(
    "content",
    [b"[]", b'{"A": 1}', b"not json", b'{"A": ["x"]}'],
)
def test_bad_secrets_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "secrets.json"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(FormatError):
        read_app_secrets(path)


def test_evidence_file_round_trip(notes: Packaged, tmp_path: Path) -> None:
    instance = make_instance(notes.package)
    path = tmp_path / "evidence.json"
    path.write_bytes(instance.evidence_json())
    document = read_evidence_file(path)
    assert document.app.fingerprint == instance.header.fingerprint
    doc = json.loads(path.read_bytes())
    doc["app"]["fingerprint"] = "sha256:" + "00" * 32
    path.write_text(json.dumps(doc))
    with pytest.raises(PackageMismatchError):
        verify_owner_evidence(
            read_evidence_file(path), notes.package, now=NOW, allow_simulated_insecure=True
        )


def test_evidence_of_another_tls_scenario_than_the_package_is_refused(
    notes: Packaged, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runtime that served the zero-trust package with the operator's key (the node refuses
    to; this is the owner's own check of the signed claim)."""
    downgraded = ServingTls(scenario="operator", operator_pin="sha256:" + "ab" * 32)
    monkeypatch.setattr(ServingTls, "resolve", classmethod(lambda cls, spec, security: downgraded))
    with pytest.raises(PackageMismatchError, match=r"operator TLS scenario.*tls\.scenario"):
        _verify(notes)


def test_verified_evidence_reports_the_tls_scenario(notes: Packaged) -> None:
    _, enclave = _verify(notes)
    assert enclave.tls_scenario == "zero-trust"
    report = enclave.to_json()
    assert report["tls_scenario"] == "zero-trust"
    assert str(report["tls_pin"]).startswith("sha256:")
