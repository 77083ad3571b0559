"""The steps of ``veil deploy`` once the node is starting: verify, seal, provision, check.

:mod:`veil.owner.deploy` imports this module only after it started the node, so that the
verifier, sealing and TLS client code load while the node boots.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from veil.attestation.evidence import EvidenceDocument
from veil.client._tls import (
    fetch_peer_certificate,
    parse_https_url,
    pinned_ssl_context,
    spki_der,
)
from veil.client.expect import ExpectedApp
from veil.client.verify import NONCE_BYTES, verify_server
from veil.crypto.keys import CodeKey
from veil.errors import ConfigError, ServiceError
from veil.host.interface import NodeManager
from veil.host.nodes import LocalNodeManager
from veil.host.simulation import simulation_root_public_key
from veil.owner.seal import OwnerTls, build_payload, seal_for_enclave
from veil.owner.verify import OwnerVerifiedEnclave, verify_owner_evidence
from veil.package.encrypted import PackageHeader

if TYPE_CHECKING:
    from veil.owner.deploy import DeployOptions

__all__ = [
    "fetch_and_verify",
    "healthcheck",
    "seal_secrets",
    "serving_channel",
    "write_certificate",
]

_HEALTH_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)


def seal_secrets(
    enclave: OwnerVerifiedEnclave, code_key: CodeKey, source: Path | None, options: DeployOptions
) -> bytes:
    """The code key and the app's secrets (and TLS key), sealed to the verified enclave."""
    payload = build_payload(
        enclave,
        code_key=code_key,
        app_secrets=options.app_secrets,
        tls=_owner_tls(source, enclave, options),
        now=datetime.now(UTC),
    )
    return seal_for_enclave(enclave, payload)


def write_certificate(path: Path, certificate_der: bytes) -> None:
    """Save the verified serving certificate as PEM (what users give ``curl --cacert``)."""
    path.write_bytes(
        x509.load_der_x509_certificate(certificate_der).public_bytes(serialization.Encoding.PEM)
    )


def _owner_tls(
    source: Path | None, enclave: OwnerVerifiedEnclave, options: DeployOptions
) -> OwnerTls | None:
    security = enclave.header.security_config
    if security.tls_scenario != "owner-certificate":
        if options.tls_key is not None:
            raise ConfigError(
                f"--tls-key is only for the owner-certificate scenario, not {security.tls_scenario}"
            )
        return None
    if options.tls_key is None or security.tls_certificate is None or source is None:
        raise ConfigError(
            "the owner-certificate scenario needs the app directory and the certificate's "
            "private key (--tls-key)"
        )
    return OwnerTls.from_files(source / security.tls_certificate, options.tls_key)


def serving_channel(
    url: str,
    enclave: OwnerVerifiedEnclave,
    header: PackageHeader,
    options: DeployOptions,
    *,
    manager: NodeManager,
) -> tuple[str, bool, bytes]:
    """(scenario, end to end, served certificate DER) of the app now serving at ``url``.

    When the served key is the RA-TLS key just verified (zero trust), that verification
    stands. Otherwise (owner certificate, operator TLS) the server is verified afresh, the way
    a user would, to learn what the new certificate is bound to.
    """
    host, port = parse_https_url(url)
    served = fetch_peer_certificate(host, port)
    if hmac.compare_digest(spki_der(served), enclave.tls_public_key_der):
        return enclave.tls_scenario, True, served
    verification = verify_server(
        url,
        expected=ExpectedApp(
            fingerprint=header.fingerprint,
            security_config_json=header.security_config_json,
            image=options.image,
        ),
        allow_simulated_insecure=options.allow_simulated_insecure,
        simulation_root_public_key=_simulation_root(options, manager),
        # The owner asked for it with --untrusted-ssl-cert/--untrusted-ssl-key.
        allow_operator_tls=options.operator_tls is not None,
    )
    return verification.scenario, verification.end_to_end, verification.certificate_der


def healthcheck(url: str, certificate_der: bytes, path: str) -> None:
    """GET the app's healthcheck over TLS pinned to ``certificate_der``."""
    host, _ = parse_https_url(url)
    context = pinned_ssl_context(certificate_der, host=host)
    try:
        with httpx.Client(verify=context, timeout=_HEALTH_TIMEOUT) as client:
            response = client.get(f"{url}{path}")
    except httpx.HTTPError as e:
        raise ServiceError(f"healthcheck {path} failed: {e}") from e
    if response.status_code >= 400:
        raise ServiceError(f"healthcheck {path} answered {response.status_code}")


def fetch_and_verify(
    manager: NodeManager,
    name: str,
    header: PackageHeader,
    directory: Path,
    *,
    options: DeployOptions,
    on_step: Callable[[str], None],
) -> OwnerVerifiedEnclave:
    on_step("evidence")
    nonce = secrets.token_bytes(NONCE_BYTES)
    raw = manager.evidence(name, nonce=nonce).data
    (directory / "evidence.json").write_bytes(raw)
    document = EvidenceDocument.from_json(raw)
    on_step("verify")
    return verify_owner_evidence(
        document,
        header,
        now=datetime.now(UTC),
        allow_simulated_insecure=options.allow_simulated_insecure,
        simulation_root_public_key=_simulation_root(options, manager),
        expected_nonce=nonce,
        image=options.image,
    )


def _simulation_root(options: DeployOptions, manager: NodeManager) -> bytes | None:
    """The simulation root to pin: the local manager's own, when it runs the node here.

    A node this machine runs must be signed by this machine's root, not by the key its evidence
    carries. A remote manager's simulated node is signed by a root only that host knows; there
    the document's own key is used, which proves nothing, as simulated evidence never does.
    """
    if options.backend != "simulated" or not isinstance(manager, LocalNodeManager):
        return None
    return simulation_root_public_key(manager.home)
