"""The owner's check of evidence.json against the package they built, before sealing secrets."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization

from veil._io import read_bounded
from veil.attestation.collateral import Collateral
from veil.attestation.evidence import MAX_EVIDENCE_BYTES, EvidenceDocument, EvidenceFormatError
from veil.client.expect import (
    ExpectedApp,
    build_policy,
    check_claims,
    compared_registers,
    image_for,
)
from veil.crypto.hpke import SealingPublicKey, SealingSuite
from veil.errors import BindingError, FormatError
from veil.identity.measurement import Measurement
from veil.identity.reference import ImageReference
from veil.identity.runtime import RuntimeIdentity
from veil.package.encrypted import PackageHeader, read_package_header
from veil.ratls.claims import RatlsClaims
from veil.ratls.evidence import VerifiedEvidence, document_claims, verify_evidence_document
from veil.sealing.binding import instance_binding

__all__ = [
    "OwnerVerifiedEnclave",
    "PackageMismatchError",
    "read_evidence_file",
    "verify_owner_evidence",
]

_MAX_FILE_BYTES: Final = MAX_EVIDENCE_BYTES


class PackageMismatchError(BindingError):
    """The evidence is for another app than the owner's package (a swapped package?)."""


@dataclass(frozen=True, kw_only=True)
class OwnerVerifiedEnclave:
    """An enclave whose evidence verified and which runs exactly the owner's package."""

    evidence: VerifiedEvidence
    header: PackageHeader
    #: Every register the policy compared, with the value the quote carries.
    compared: Mapping[str, str] = field(default_factory=dict)
    #: The image reference values the quote was checked against (TDX, SEV-SNP: when given;
    #: simulated: the given ones or this machine's).
    image: ImageReference | None = None

    @property
    def document(self) -> EvidenceDocument:
        return self.evidence.document

    @property
    def ratls_certificate_pem(self) -> bytes:
        return self.evidence.certificate.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def tls_public_key_der(self) -> bytes:
        return self.evidence.certificate.public_key_der

    @property
    def sealing_public_key(self) -> SealingPublicKey:
        info = self.document.sealing
        try:
            suite = SealingSuite(info.suite)
        except ValueError as e:
            raise FormatError(f"evidence names an unknown sealing suite {info.suite!r}") from e
        return SealingPublicKey.from_bytes(info.public_key, suite=suite)

    @property
    def instance_id(self) -> str:
        return self.document.deployment.instance_id

    @property
    def fingerprint(self) -> str:
        return self.header.fingerprint

    @property
    def tls_scenario(self) -> str:
        """The TLS scenario the enclave serves the app in (a signed claim)."""
        return self.document.deployment.tls_scenario

    def instance_binding(self) -> bytes:
        """The binding sealed secrets for this enclave instance must carry."""
        return instance_binding(
            instance_id=self.instance_id,
            tls_public_key_der=self.tls_public_key_der,
            sealing_public_key=self.document.sealing.public_key,
        )

    def to_json(self) -> dict[str, object]:
        quote = self.evidence.verified_quote
        return {
            "verified": True,
            "app_name": self.header.app_name,
            "fingerprint": self.fingerprint,
            "instance_id": self.instance_id,
            "tee": quote.tee.value,
            "measurements": dict(quote.measurements),
            "compared": dict(self.compared),
            "image": self.image.to_json() if self.image is not None else None,
            "tcb_status": quote.tcb_status.value,
            "runtime": {
                "version": self.document.runtime.version,
                "digest": self.document.runtime.digest,
            },
            "sans": list(self.document.deployment.sans),
            "port": self.document.deployment.port,
            "tls_scenario": self.tls_scenario,
            "tls_pin": self.document.deployment.tls_pin,
            "verified_at": quote.verified_at.isoformat(),
        }


def read_evidence_file(path: Path) -> EvidenceDocument:
    data = read_bounded(
        path, max_bytes=_MAX_FILE_BYTES, what="evidence file", too_large=EvidenceFormatError
    )
    return EvidenceDocument.from_json(data)


def verify_owner_evidence(
    document: EvidenceDocument,
    package: PackageHeader | Path,
    *,
    now: datetime,
    allow_simulated_insecure: bool = False,
    allow_debug_insecure: bool = False,
    simulation_root_public_key: bytes | None = None,
    collateral: Collateral | None = None,
    expected_measurement: Measurement | None = None,
    runtime: RuntimeIdentity | None = None,
    image: ImageReference | None = None,
    expected_nonce: bytes | None = None,
) -> OwnerVerifiedEnclave:
    """Verify ``document`` as the owner of ``package``.

    1. The evidence names the package's app (name and fingerprint): otherwise the operator
       started another package, and the error says so.
    2. The evidence's runtime is ``runtime`` (default: the veil runtime installed here).
    3. The quote, collateral and RA-TLS certificate verify at ``now``; the default policy
       holds (simulated and debug enclaves refused unless allowed); the measurement equals the
       one recomputed for (this runtime, the package's fingerprint and security config).
       TDX and SEV-SNP also need ``image`` (``--image``): MRTD + RTMR0-2 or MEASUREMENT must
       be the image's, and RTMR3 or HOST_DATA the app's through that image. Simulated
       evidence's ``image`` register must be the given simulated image's, by default this
       machine's Python environment.
    4. Every field of the document equals what the attested enclave signed.
    5. With ``expected_nonce`` (the owner asked the node directly), the document answers that
       nonce, signed by the attested key.
    6. The enclave serves the app in the package's TLS scenario (``tls.scenario``): an
       operator cannot have swapped its own TLS key in (the runtime refuses to, and this
       checks what the runtime claims).
    """
    header = read_package_header(package) if isinstance(package, Path) else package
    if not hmac.compare_digest(document.app.fingerprint.encode(), header.fingerprint.encode()):
        raise PackageMismatchError(
            f"the evidence is for app fingerprint {document.app.fingerprint}, but your package "
            f"is {header.fingerprint}: the enclave runs another package"
        )
    if document.app.name != header.app_name:
        raise PackageMismatchError(
            f"the evidence is for app {document.app.name!r}, your package is {header.app_name!r}"
        )
    expected = ExpectedApp(
        fingerprint=header.fingerprint,
        security_config_json=header.security_config_json,
        runtime=runtime,
        measurement=expected_measurement,
        image=image,
    )
    claims = document_claims(document)
    check_claims(claims, expected)
    policy = build_policy(
        expected,
        document.tee,
        claims=claims,
        allow_simulated_insecure=allow_simulated_insecure,
        allow_debug_insecure=allow_debug_insecure,
    )
    verified = verify_evidence_document(
        document,
        policy=policy,
        now=now,
        collateral=collateral,
        simulation_root_public_key=simulation_root_public_key,
        expected_nonce=expected_nonce,
    )
    _check_tls_claims(document_claims(verified.document), header)
    return OwnerVerifiedEnclave(
        evidence=verified,
        header=header,
        compared=compared_registers(expected, verified.verified_quote, claims=claims),
        image=image_for(expected, verified.verified_quote.tee),
    )


def _check_tls_claims(claims: RatlsClaims, header: PackageHeader) -> None:
    security = header.security_config
    if claims.tls_scenario != security.tls_scenario:
        raise PackageMismatchError(
            f"the enclave serves the app in the {claims.tls_scenario} TLS scenario, but your "
            f"package's veil.toml has tls.scenario = {security.tls_scenario!r}"
        )
    pinned = security.tls_certificate_sha256
    if pinned is not None and not hmac.compare_digest(claims.tls_pin.encode(), pinned.encode()):
        raise PackageMismatchError(
            f"the enclave claims TLS certificate {claims.tls_pin}, but your package pins {pinned}"
        )
