"""``veil.owner.seal.seal_to_evidence``: verify, build the payload, seal, write; or nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.owner.conftest import Packaged, make_instance
from veil.attestation.errors import PolicyError
from veil.errors import BindingError, OperationError
from veil.owner.seal import seal_to_evidence
from veil.sealing.envelope import unseal
from veil.sealing.secrets import SecretsPayload

NOW = datetime.now(UTC)


def _seal(notes: Packaged, tmp_path: Path, **options: object):  # type: ignore[no-untyped-def]
    instance = make_instance(notes.package)
    evidence = tmp_path / "evidence.json"
    evidence.write_bytes(instance.evidence_document(nonce=b"n" * 32).to_json())
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"TOKEN": "s3cret"}))
    secrets.chmod(0o600)
    given: dict[str, object] = {
        "code_key": notes.key_file,
        "app_secrets": secrets,
        "now": NOW,
        "issued_at": NOW,
        "allow_simulated_insecure": True,
        **options,
    }
    output = tmp_path / "sealed.bin"
    sealed = seal_to_evidence(evidence, notes.package, output, **given)  # type: ignore[arg-type]
    return instance, output, sealed


def test_the_sealed_file_opens_only_in_that_instance(notes: Packaged, tmp_path: Path) -> None:
    instance, output, sealed = _seal(notes, tmp_path)
    envelope = output.read_bytes()
    assert sealed.size == len(envelope)
    assert sealed.app_secret_count == 1
    assert sealed.enclave.instance_id == instance.spec.instance_id
    assert output.stat().st_mode & 0o777 == 0o644
    opened = SecretsPayload.from_bytes(
        unseal(envelope, recipient=instance.sealing_key, binding=instance.binding)
    )
    assert opened.app_secrets == {"TOKEN": "s3cret"}
    assert opened.code_key == notes.key
    assert opened.issued_at == NOW.replace(microsecond=0)  # stored to the second


def test_evidence_that_does_not_verify_writes_nothing(notes: Packaged, tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="simulated"):
        _seal(notes, tmp_path, allow_simulated_insecure=False)
    assert not (tmp_path / "sealed.bin").exists()


def test_a_code_key_of_another_package_writes_nothing(
    notes: Packaged, other_app: Packaged, tmp_path: Path
) -> None:
    with pytest.raises(BindingError, match="not the package's key"):
        _seal(notes, tmp_path, code_key=other_app.key_file)
    assert not (tmp_path / "sealed.bin").exists()


def test_an_existing_output_is_not_overwritten(notes: Packaged, tmp_path: Path) -> None:
    (tmp_path / "sealed.bin").write_bytes(b"earlier")
    with pytest.raises(OperationError):
        _seal(notes, tmp_path)
    assert (tmp_path / "sealed.bin").read_bytes() == b"earlier"
