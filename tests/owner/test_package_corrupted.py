"""Provisioning tells a corrupted or swapped package file from secrets that are not the owner's.

The node (Authenticator) says "package corrupted or swapped" only once the code key inside the
envelope is the one the attested package header names (its public key id); any other key is
refused with the one opaque "sealed secrets rejected".
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.owner.conftest import Packaged, make_instance
from veil.crypto.keys import CodeKey
from veil.enclave.errors import PackageCorruptedError, ProvisioningRejectedError
from veil.enclave.instance import EnclaveInstance
from veil.enclave.provisioning import Authenticator
from veil.enclave.runtime_dir import RuntimeDir
from veil.host.bootstrap import ProvisioningRefusedError
from veil.owner.verify import verify_owner_evidence
from veil.sealing.binding import format_instance_binding
from veil.sealing.envelope import seal
from veil.sealing.secrets import SecretsPayload


def _authenticator(instance: EnclaveInstance, tmp_path: Path) -> Authenticator:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    return Authenticator(
        instance=instance, runtime=RuntimeDir(runtime), sealed_secrets=tmp_path / "s.sealed"
    )


def _sealed(instance: EnclaveInstance, notes: Packaged, *, key: CodeKey) -> bytes:
    now = datetime.now(UTC)
    enclave = verify_owner_evidence(
        instance.evidence_document(), notes.package, now=now, allow_simulated_insecure=True
    )
    payload = SecretsPayload(
        code_key=key,
        package_fingerprint=instance.header.fingerprint,
        instance_binding=format_instance_binding(enclave.instance_binding()),
    )
    return seal(
        payload.to_bytes(),
        recipient=enclave.sealing_public_key,
        binding=enclave.instance_binding(),
    )


def _corrupt(package: Path) -> None:
    data = bytearray(package.read_bytes())
    data[-100] ^= 0x01  # in the encrypted body, past the header the node attested
    package.write_bytes(bytes(data))


def test_owner_key_with_a_corrupted_package_says_so(notes: Packaged, tmp_path: Path) -> None:
    instance = make_instance(notes.package)
    envelope = _sealed(instance, notes, key=notes.key)
    _corrupt(notes.package)
    with pytest.raises(PackageCorruptedError, match="corrupted or was swapped"):
        _authenticator(instance, tmp_path).authenticate(envelope)


def test_owner_key_with_a_swapped_package_says_so(
    notes: Packaged, other_app: Packaged, tmp_path: Path
) -> None:
    instance = make_instance(notes.package)
    envelope = _sealed(instance, notes, key=notes.key)
    shutil.copyfile(other_app.package, notes.package)  # another package, under another key
    with pytest.raises(PackageCorruptedError):
        _authenticator(instance, tmp_path).authenticate(envelope)


def test_a_key_that_is_not_the_owners_stays_opaque(notes: Packaged, tmp_path: Path) -> None:
    """The operator can seal to the node too: its own key is refused without detail, whether
    or not the package file is intact (no hint about the file either way)."""
    instance = make_instance(notes.package)
    forged = _sealed(instance, notes, key=CodeKey.generate())
    with pytest.raises(ProvisioningRejectedError) as intact:
        _authenticator(instance, tmp_path / "a").authenticate(forged)
    _corrupt(notes.package)
    with pytest.raises(ProvisioningRejectedError) as corrupted:
        _authenticator(instance, tmp_path / "b").authenticate(forged)
    assert str(intact.value) == str(corrupted.value) == "sealed secrets rejected"


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()


def test_operator_messages_name_the_fault() -> None:
    """`veil provision` words the two refusals differently, each with what to do."""
    package = str(ProvisioningRefusedError(422, "the package file is corrupted or was swapped"))
    secrets = str(ProvisioningRefusedError(403, "sealed secrets rejected"))
    assert "restore the package file" in package
    assert "not at fault" in package
    assert "not sealed for this node" in secrets
    assert "package file" not in secrets
