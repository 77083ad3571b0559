"""Seal the owner's secrets (code key, app secrets, TLS key) to one verified enclave instance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from veil._io import read_bounded
from veil._json import load_json_object
from veil.crypto.digest import sha256_tagged
from veil.crypto.keyfiles import PUBLIC_FILE_MODE, write_key_file
from veil.crypto.keys import CodeKey, read_code_key
from veil.errors import BindingError, ConfigError, FormatError
from veil.identity.reference import ImageReference
from veil.owner.verify import OwnerVerifiedEnclave, read_evidence_file, verify_owner_evidence
from veil.package.source import MAX_CERTIFICATE_BYTES
from veil.sealing.binding import format_instance_binding
from veil.sealing.envelope import seal
from veil.sealing.secrets import MAX_SECRETS_BYTES, SecretsPayload

__all__ = [
    "MAX_APP_SECRETS_FILE_BYTES",
    "MAX_TLS_KEY_BYTES",
    "OwnerTls",
    "SealedSecrets",
    "build_payload",
    "read_app_secrets",
    "seal_for_enclave",
    "seal_to_evidence",
]

#: Largest SECRETS.json read, in bytes: everything must fit one sealed payload anyway.
MAX_APP_SECRETS_FILE_BYTES: Final = MAX_SECRETS_BYTES
#: Largest TLS private key file read, in bytes (an RSA-8192 PEM key is about 6.5 KiB).
MAX_TLS_KEY_BYTES: Final = 64 * 1024


def read_app_secrets(path: Path) -> dict[str, str]:
    """SECRETS.json: one JSON object of ``NAME: "value"`` strings (names like env variables)."""
    data = read_bounded(
        path, max_bytes=MAX_APP_SECRETS_FILE_BYTES, what="secrets file", private=True
    )
    document = load_json_object(data, max_bytes=MAX_APP_SECRETS_FILE_BYTES, what=str(path))
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in document.items()):
        raise FormatError(f'{path} must be a JSON object of strings: {{"NAME": "value", ...}}')
    return dict(document)


@dataclass(frozen=True, repr=False)
class OwnerTls:
    """The owner's certificate chain and private key, for the owner-certificate scenario."""

    certificate_chain_pem: bytes
    private_key_pem: bytes

    @classmethod
    def from_files(cls, certificate: Path, private_key: Path) -> OwnerTls:
        chain = read_bounded(
            certificate, max_bytes=MAX_CERTIFICATE_BYTES, what="certificate", private=False
        )
        key = read_bounded(
            private_key, max_bytes=MAX_TLS_KEY_BYTES, what="TLS private key", private=True
        )
        return cls(certificate_chain_pem=chain, private_key_pem=key)

    def __repr__(self) -> str:
        return "OwnerTls(private key hidden)"


def _check_tls(enclave: OwnerVerifiedEnclave, tls: OwnerTls | None) -> None:
    security = enclave.header.security_config
    if security.tls_scenario != "owner-certificate":
        if tls is not None:
            raise ConfigError(
                f"the package's TLS scenario is {security.tls_scenario}: it takes no owner "
                "certificate or key"
            )
        return
    if tls is None:
        raise ConfigError(
            "the package uses the owner-certificate scenario: give the certificate's private key "
            "(--tls-key) so it can be sealed to the enclave"
        )
    pinned = security.tls_certificate_sha256
    if pinned is None or sha256_tagged(tls.certificate_chain_pem) != pinned:
        raise BindingError(
            "the TLS certificate is not the one packaged in the app (its sha256 differs from the "
            "package's security config)"
        )


def build_payload(
    enclave: OwnerVerifiedEnclave,
    *,
    code_key: CodeKey,
    app_secrets: Mapping[str, str] | None = None,
    tls: OwnerTls | None = None,
    now: datetime | None = None,
) -> SecretsPayload:
    """The payload for ``enclave``: only a verified enclave can be named here."""
    if code_key.key_id != enclave.header.key_id:
        raise BindingError(
            f"the code key {code_key.key_id} is not the package's key {enclave.header.key_id}"
        )
    _check_tls(enclave, tls)
    return SecretsPayload(
        code_key=code_key,
        package_fingerprint=enclave.fingerprint,
        instance_binding=format_instance_binding(enclave.instance_binding()),
        app_secrets=dict(app_secrets or {}),
        tls_private_key_pem=tls.private_key_pem if tls else None,
        tls_certificate_chain_pem=tls.certificate_chain_pem if tls else None,
        issued_at=now,
    )


def seal_for_enclave(enclave: OwnerVerifiedEnclave, payload: SecretsPayload) -> bytes:
    """The sealed envelope only ``enclave`` (this very instance) can open."""
    binding = enclave.instance_binding()
    if payload.instance_binding != format_instance_binding(binding):
        raise BindingError("the payload is bound to another enclave instance")
    return seal(payload.to_bytes(), recipient=enclave.sealing_public_key, binding=binding)


@dataclass(frozen=True, kw_only=True)
class SealedSecrets:
    """What :func:`seal_to_evidence` wrote, and for which verified enclave."""

    enclave: OwnerVerifiedEnclave
    app_secret_count: int
    #: Size of the sealed envelope written, in bytes.
    size: int


def seal_to_evidence(
    evidence: Path,
    package: Path,
    output: Path,
    *,
    code_key: Path,
    app_secrets: Path | None = None,
    tls: tuple[Path, Path] | None = None,
    now: datetime,
    issued_at: datetime,
    allow_simulated_insecure: bool = False,
    simulation_root_public_key: bytes | None = None,
    image: ImageReference | None = None,
    expected_nonce: bytes | None = None,
) -> SealedSecrets:
    """Verify ``evidence`` against ``package`` as of ``now``, then seal the code key, the app
    secrets (SECRETS.json) and the owner's TLS (certificate, key) to that very instance, into
    the new file ``output``.

    Nothing is written unless the evidence verifies and every input is read. The envelope is
    written 0644: only the enclave instance can open it. ``issued_at`` dates the payload (the
    real time, even when verifying as of another ``now``).
    """
    enclave = verify_owner_evidence(
        read_evidence_file(evidence),
        package,
        now=now,
        allow_simulated_insecure=allow_simulated_insecure,
        simulation_root_public_key=simulation_root_public_key,
        image=image,
        expected_nonce=expected_nonce,
    )
    owner_tls = OwnerTls.from_files(*tls) if tls is not None else None
    secrets = read_app_secrets(app_secrets) if app_secrets is not None else {}
    payload = build_payload(
        enclave,
        code_key=read_code_key(code_key),
        app_secrets=secrets,
        tls=owner_tls,
        now=issued_at,
    )
    envelope = seal_for_enclave(enclave, payload)
    write_key_file(output, envelope, overwrite=False, mode=PUBLIC_FILE_MODE)
    return SealedSecrets(enclave=enclave, app_secret_count=len(secrets), size=len(envelope))
