"""Accepting the owner's sealed secrets: open, prove ownership by decrypting the package, reseal."""

from __future__ import annotations

import hmac
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from veil.crypto.keys import CodeKey
from veil.enclave.errors import PackageCorruptedError, ProvisioningRejectedError
from veil.enclave.instance import EnclaveInstance
from veil.enclave.runtime_dir import RuntimeDir
from veil.enclave.storage import (
    SECRETS_LABEL,
    StorageKey,
    derive_storage_key,
    read_sealed_file,
    write_sealed_file,
)
from veil.errors import DecryptionError, FormatError
from veil.package.encrypted import DecryptedPackage, decrypt_package
from veil.sealing.binding import INSTANCE_ID_SIZE, format_instance_binding, parse_instance_id
from veil.sealing.envelope import unseal
from veil.sealing.secrets import SecretsPayload

__all__ = ["SEALED_SECRETS_NAME", "Accepted", "Authenticator"]

_log = logging.getLogger(__name__)

#: Logical name the re-sealed secrets are bound to inside ``sealed/secrets.sealed``.
SEALED_SECRETS_NAME: Final = "provisioned-secrets"
_SECRETS_PURPOSE: Final = "secrets"
#: The re-sealed record: this label, the 16-byte instance id it belongs to, then the payload.
#: The id is inside the authenticated plaintext, so a copy names its origin and cannot lie.
_RESEALED_LABEL: Final = b"veil/resealed-secrets/v2\x00"


@dataclass(frozen=True, repr=False)
class Accepted:
    """Secrets that proved they come from the owner, and the package they decrypted."""

    payload: SecretsPayload
    package: DecryptedPackage
    #: True when they came from ``sealed/secrets.sealed`` (restart without the owner).
    restored: bool

    def __repr__(self) -> str:
        return (
            f"Accepted(restored={self.restored}, fingerprint={self.payload.package_fingerprint!r})"
        )


def _leaf_der(chain_pem: bytes) -> bytes:
    certificates = x509.load_pem_x509_certificates(chain_pem)
    return certificates[0].public_bytes(serialization.Encoding.DER)


class Authenticator:
    """Decides whether sealed secrets come from the owner of the package this node runs.

    Proof of ownership is not the HPKE envelope (the operator can seal to the node's public
    key too) but the code key inside: it must decrypt the package, whose recomputed
    fingerprint must be the one the node was attested with.
    """

    def __init__(self, *, instance: EnclaveInstance, runtime: RuntimeDir, sealed_secrets: Path):
        self._instance = instance
        self._runtime = runtime
        self._sealed_secrets = sealed_secrets

    def authenticate(self, envelope: bytes) -> Accepted:
        """Open a sealed envelope from the bootstrap API.

        ``FormatError`` when it is not an envelope at all (bad magic, version, size);
        ``PackageCorruptedError`` when the owner's code key does not open the package file;
        ``ProvisioningRejectedError`` for everything else that is wrong, with no detail.
        """
        try:
            plaintext = unseal(
                envelope, recipient=self._instance.sealing_key, binding=self._instance.binding
            )
        except DecryptionError:
            raise ProvisioningRejectedError from None
        return self._accept(plaintext, restored=False)

    def _accept(self, plaintext: bytes, *, restored: bool) -> Accepted:
        header = self._instance.header
        try:
            payload = SecretsPayload.from_bytes(plaintext)
        except FormatError:
            raise ProvisioningRejectedError from None
        if not restored and not hmac.compare_digest(
            payload.instance_binding.encode(),
            format_instance_binding(self._instance.binding).encode(),
        ):
            raise ProvisioningRejectedError
        if not hmac.compare_digest(
            payload.package_fingerprint.encode(), header.fingerprint.encode()
        ):
            raise ProvisioningRejectedError
        package = self._decrypt(payload.code_key)
        try:
            self._check_package(package, payload)
        except (ProvisioningRejectedError, PackageCorruptedError):
            shutil.rmtree(package.directory, ignore_errors=True)
            raise
        return Accepted(payload=payload, package=package, restored=restored)

    def _decrypt(self, code_key: CodeKey) -> DecryptedPackage:
        """The package decrypted under ``code_key``.

        A key that is not the one the attested package was encrypted under is refused like any
        other forgery (``ProvisioningRejectedError``). A key that is (its public key id equals
        the one in the header read and attested at start) comes from the owner: only they know
        a preimage of that id. If the file then fails to decrypt or is another app, the file
        changed under the node, and it says so (``PackageCorruptedError``) rather than blaming
        the secrets. That is no oracle: the key id is public in the package header, anyone can
        compute it for a key of their own, and the operator holding the file can try any key
        against it offline; what decryption cannot reveal (the key, the plaintext) stays inside.
        """
        if not hmac.compare_digest(code_key.key_id.encode(), self._instance.header.key_id.encode()):
            raise ProvisioningRejectedError
        destination = self._runtime.fresh_subdir_path("app")
        try:
            return decrypt_package(self._instance.spec.package, key=code_key, dest_dir=destination)
        except DecryptionError:
            _log.warning("the package file does not decrypt under the owner's code key")
            raise PackageCorruptedError from None

    def _check_package(self, package: DecryptedPackage, payload: SecretsPayload) -> None:
        attested = self._instance.header
        # The operator may have swapped the package file since start: only the package whose
        # identity the node was attested (and measured) with may run. The key is the owner's
        # here (_decrypt), so this is the file's fault, not the secrets'.
        if not hmac.compare_digest(
            package.header.fingerprint.encode(), attested.fingerprint.encode()
        ) or not hmac.compare_digest(
            package.header.security_config_json, attested.security_config_json
        ):
            raise PackageCorruptedError
        security = package.header.security_config
        if security.tls_scenario == "owner-certificate":
            if payload.tls_private_key_pem is None or payload.tls_certificate_chain_pem is None:
                raise ProvisioningRejectedError
            if security.tls_certificate is None:
                raise ProvisioningRejectedError
            try:
                packaged = (package.directory / security.tls_certificate).read_bytes()
                same = hmac.compare_digest(
                    _leaf_der(packaged), _leaf_der(payload.tls_certificate_chain_pem)
                )
            except (OSError, ValueError, IndexError):
                raise ProvisioningRejectedError from None
            if not same:
                raise ProvisioningRejectedError

    # -- restart without the owner --------------------------------------------------------

    def _storage_key(self) -> StorageKey:
        backend_key = self._instance.backend.sealing_key(SECRETS_LABEL)
        return derive_storage_key(
            backend_key, fingerprint=self._instance.header.fingerprint, purpose=_SECRETS_PURPOSE
        )

    def persist(self, accepted: Accepted) -> None:
        """Re-seal the secrets to this enclave identity when the app allows a restart without
        the owner; otherwise remove any earlier copy."""
        if accepted.restored:
            return
        if accepted.package.header.security_config.allow_restart_without_owner:
            record = _RESEALED_LABEL + self._instance_id() + accepted.payload.to_bytes()
            write_sealed_file(
                self._sealed_secrets, record, key=self._storage_key(), name=SEALED_SECRETS_NAME
            )
            _log.info("secrets re-sealed for restarts without the owner")
        else:
            self._sealed_secrets.unlink(missing_ok=True)

    def restore_sealed_secrets(self) -> Accepted | None:
        """The re-sealed secrets, if present, allowed and openable here; else ``None``."""
        if not self._sealed_secrets.exists():
            return None
        if not self._instance.header.security_config.allow_restart_without_owner:
            _log.warning("ignoring sealed secrets: the app does not allow restarts without owner")
            return None
        try:
            plaintext = read_sealed_file(
                self._sealed_secrets, key=self._storage_key(), name=SEALED_SECRETS_NAME
            )
            if plaintext is None:
                return None
            payload = self._own_record(plaintext)
            if payload is None:
                return None
            return self._accept(payload, restored=True)
        except PackageCorruptedError:
            _log.warning(
                "the package file is corrupted or was swapped since the secrets were sealed; "
                "waiting for the owner"
            )
            return None
        except (DecryptionError, ProvisioningRejectedError):
            _log.warning("sealed secrets do not open in this enclave; waiting for the owner")
            return None

    def _instance_id(self) -> bytes:
        return parse_instance_id(self._instance.spec.instance_id)

    def _own_record(self, record: bytes) -> bytes | None:
        """The payload of a re-sealed record, if this instance sealed it; else ``None``.

        Same package and platform give the same storage key, so another node's copy opens;
        the instance id sealed inside tells a restart of this instance from a clone. Two nodes
        started with one instance id stay indistinguishable here: replicas and rollback
        protection need the key broker (docs/threat-model.md).
        """
        head = len(_RESEALED_LABEL) + INSTANCE_ID_SIZE
        if len(record) < head or not record.startswith(_RESEALED_LABEL):
            _log.warning("sealed secrets are in an older format; waiting for the owner")
            return None
        sealed_by = record[len(_RESEALED_LABEL) : head]
        if not hmac.compare_digest(sealed_by, self._instance_id()):
            _log.error(
                "sealed secrets belong to another instance (%s), not this one (%s): a copy of "
                "another node's state is refused; waiting for the owner",
                sealed_by.hex(),
                self._instance.spec.instance_id,
            )
            return None
        return record[head:]
