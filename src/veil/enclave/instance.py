"""This node instance's attested identity: backend, in-enclave keys, RA-TLS cert and binding."""

from __future__ import annotations

import logging
import ssl
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from veil.attestation.evidence import AppIdentity, Deployment, EvidenceDocument, SealingKeyInfo
from veil.attestation.evidence import RuntimeIdentity as EvidenceRuntime
from veil.attestation.result import Tee
from veil.crypto.digest import format_tagged_sha256
from veil.crypto.hpke import SealingPrivateKey
from veil.enclave.backends.factory import NodeIdentity, open_node_backend
from veil.enclave.backends.interface import Backend
from veil.enclave.server import server_tls_context
from veil.enclave.serving_tls import ServingTls
from veil.enclave.spec import NodeSpec
from veil.errors import OperationError
from veil.identity.app import security_config_digest
from veil.identity.runtime import RuntimeIdentity, runtime_identity
from veil.package.encrypted import PackageHeader, read_package_header
from veil.ratls.extension import RatlsClaims
from veil.ratls.freshness import sign_freshness
from veil.ratls.issue import IssuedCertificate, issue_ratls_certificate
from veil.sealing.binding import instance_binding

__all__ = ["MAX_CONCURRENT_QUOTES", "QUOTE_WAIT_SECONDS", "EnclaveInstance", "read_header"]

_log = logging.getLogger(__name__)

_PEM = serialization.Encoding.PEM
_DER = serialization.Encoding.DER
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo

#: Quotes this instance asks of its backend at once. The quoting enclave is shared by every
#: enclave on the host and a hardware quote takes ~10-100 ms: nothing may queue more.
MAX_CONCURRENT_QUOTES: Final = 1
#: Time a quote waits for its slot, in seconds, before failing (beyond any backend's quote time).
QUOTE_WAIT_SECONDS: Final = 30.0


def read_header(spec: NodeSpec) -> PackageHeader:
    """The package's clear header (no key): fingerprint and security config."""
    return read_package_header(spec.package)


class EnclaveInstance:
    """Everything generated inside the enclave at start, kept in memory only.

    The TLS key (ECDSA P-256) and the HPKE sealing key never leave this object; the RA-TLS
    certificate binds both through its quote, and the instance binding names them for the
    owner's sealed secrets.
    """

    def __init__(
        self,
        *,
        spec: NodeSpec,
        header: PackageHeader,
        backend: Backend,
        runtime: RuntimeIdentity,
        tls_key: ec.EllipticCurvePrivateKey,
        sealing_key: SealingPrivateKey,
        certificate: IssuedCertificate,
        serving_tls: ServingTls,
    ) -> None:
        self.spec = spec
        self.serving_tls = serving_tls
        self.header = header
        self.backend = backend
        self.runtime = runtime
        self._tls_key = tls_key
        self.sealing_key = sealing_key
        self.certificate = certificate
        self.tls_spki_der = tls_key.public_key().public_bytes(_DER, _SPKI)
        self.binding = instance_binding(
            instance_id=spec.instance_id,
            tls_public_key_der=self.tls_spki_der,
            sealing_public_key=sealing_key.public_key().to_bytes(),
        )
        self.claims = certificate.evidence.claims
        self._lock = threading.Lock()
        # The key and certificate evidence currently speaks for: the RA-TLS key, or the owner
        # certificate's key once the app serves with it.
        self._evidence_key = tls_key
        self._evidence_certificate = certificate
        self._quote_slots = threading.BoundedSemaphore(MAX_CONCURRENT_QUOTES)

    @classmethod
    def create(cls, spec: NodeSpec, header: PackageHeader, *, now: datetime) -> EnclaveInstance:
        # Before anything is attested: a node.json asking for a TLS scenario the package does
        # not allow stops the node here.
        serving_tls = ServingTls.resolve(spec, header.security_config)
        runtime = runtime_identity()
        # Only options that cannot change the identity reach the backend (factory.py).
        identity = NodeIdentity(
            runtime=runtime,
            fingerprint=header.fingerprint,
            security_config_json=header.security_config_json,
        )
        backend = open_node_backend(spec.backend, spec.backend_options, identity)
        # Record the app identity before any key exists: nothing is quoted for another app.
        backend.extend_app_identity(
            header.fingerprint, security_config_digest(header.security_config_json)
        )
        tls_key = ec.generate_private_key(ec.SECP256R1())
        sealing_key = SealingPrivateKey.generate()
        # Everything evidence.json says about this node is signed here, so an operator cannot
        # edit it undetected (docs/formats.md, "evidence.json").
        claims = RatlsClaims(
            app_name=header.app_name,
            app_fingerprint=header.fingerprint,
            security_config_digest=format_tagged_sha256(
                security_config_digest(header.security_config_json)
            ),
            runtime_version=runtime.version,
            runtime_digest=runtime.digest,
            instance_id=spec.instance_id,
            port=spec.port,
            created_at=spec.created_at,
            tls_scenario=serving_tls.scenario,
            tls_pin=serving_tls.pin(
                ratls_spki_der=tls_key.public_key().public_bytes(_DER, _SPKI),
                security=header.security_config,
            ),
        )
        certificate = issue_ratls_certificate(
            tls_key,
            quote_fn=backend.quote,
            sealing_public_key=sealing_key.public_key().to_bytes(),
            sealing_suite=sealing_key.suite.value,
            sans=list(spec.san),
            now=now,
            claims=claims,
        )
        return cls(
            spec=spec,
            header=header,
            backend=backend,
            runtime=runtime,
            tls_key=tls_key,
            sealing_key=sealing_key,
            certificate=certificate,
            serving_tls=serving_tls,
        )

    def ratls_tls_context(self, *, scratch_dir: Path | None) -> ssl.SSLContext:
        """A server TLS context for the RA-TLS certificate and the in-enclave key."""
        key_pem = self._tls_key.private_bytes(
            _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return server_tls_context(self.certificate.pem, key_pem, scratch_dir=scratch_dir)

    def _bounded_quote(self, report_data: bytes) -> bytes:
        if not self._quote_slots.acquire(timeout=QUOTE_WAIT_SECONDS):
            raise OperationError("the TEE backend is busy with other quotes")
        try:
            return self.backend.quote(report_data)
        finally:
            self._quote_slots.release()

    def issue_certificate(self, key: ec.EllipticCurvePrivateKey) -> IssuedCertificate:
        """A new RA-TLS certificate for ``key``: one quote, through the bounded quote slot."""
        return issue_ratls_certificate(
            key,
            quote_fn=self._bounded_quote,
            sealing_public_key=self.sealing_key.public_key().to_bytes(),
            sealing_suite=self.sealing_key.suite.value,
            sans=list(self.spec.san),
            now=datetime.now(UTC),
            claims=self.claims,
        )

    def bind_serving_key(self, key: PrivateKeyTypes) -> bool:
        """Make evidence speak for the owner certificate's ``key`` from now on.

        Only ECDSA P-256 keys can sign veil RA-TLS certificates; for any other key the
        evidence keeps binding the RA-TLS key (returns False) and users verify the owner
        certificate through the package fingerprint, which pins it.
        """
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            _log.warning("the owner certificate key is not ECDSA P-256: evidence binds RA-TLS key")
            return False
        certificate = self.issue_certificate(key)
        with self._lock:
            self._evidence_key = key
            self._evidence_certificate = certificate
        return True

    def evidence_document(self, *, nonce: bytes | None = None) -> EvidenceDocument:
        """The evidence document for the current certificate; over ``nonce``, also that
        certificate key's signature answering it (no quote: the certificate's is reused)."""
        with self._lock:
            key, certificate = self._evidence_key, self._evidence_certificate
        signature = (
            sign_freshness(
                key, nonce=nonce, instance_id=self.spec.instance_id, certificate_der=certificate.der
            )
            if nonce
            else b""
        )
        root = getattr(self.backend, "root_public_key", None)
        return EvidenceDocument(
            tee=self.backend.tee,
            ratls_certificate=certificate.pem,
            quote=certificate.quote,
            collateral=None,
            simulation_root_public_key=root if self.backend.tee is Tee.SIMULATED else None,
            # Every field below renders a signed claim (verify_evidence_document compares them).
            runtime=EvidenceRuntime(
                version=self.claims.runtime_version, digest=self.claims.runtime_digest
            ),
            app=AppIdentity(
                name=self.claims.app_name,
                fingerprint=self.claims.app_fingerprint,
                security_config_digest=self.claims.security_config_digest,
            ),
            deployment=Deployment(
                instance_id=self.spec.instance_id,
                sans=self.spec.san,
                port=self.claims.port,
                created_at=self.claims.created_at,
                tls_scenario=self.claims.tls_scenario,
                tls_pin=self.claims.tls_pin,
                nonce=nonce or b"",
                nonce_signature=signature,
            ),
            sealing=SealingKeyInfo(
                public_key=self.sealing_key.public_key().to_bytes(),
                suite=self.sealing_key.suite.value,
            ),
        )

    def evidence_json(self, *, nonce: bytes | None = None) -> bytes:
        return self.evidence_document(nonce=nonce).to_json()

    def __repr__(self) -> str:
        return f"EnclaveInstance(instance_id={self.spec.instance_id!r})"
