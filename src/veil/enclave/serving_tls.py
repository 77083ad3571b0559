"""The TLS the app will be served with, decided at start: the package's scenario, and its pin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from veil._io import read_bounded
from veil.crypto.digest import sha256_tagged
from veil.enclave.spec import NODE_SPEC_FILE, NodeSpec
from veil.errors import ConfigError
from veil.package.security import SecurityConfig

__all__ = ["MAX_OPERATOR_TLS_FILE_BYTES", "ServingTls", "spki_pin"]

#: Largest operator certificate chain or key file read, in bytes (a chain of a few RSA-4096
#: certificates is under 10 KiB).
MAX_OPERATOR_TLS_FILE_BYTES: Final = 64 * 1024


def spki_pin(spki_der: bytes) -> str:
    """The ``tls_pin`` claim of a served key: ``sha256:`` of its DER SubjectPublicKeyInfo."""
    return sha256_tagged(spki_der)


@dataclass(frozen=True, repr=False)
class ServingTls:
    """The effective TLS scenario, and the operator's certificate and key when it serves.

    The operator's files are read once, here, at start: the node serves exactly the bytes its
    ``tls_pin`` claim was computed from, whatever the files become later.
    """

    scenario: str
    operator_chain_pem: bytes | None = None
    operator_key_pem: bytes | None = None
    #: ``tls_pin`` of the operator's leaf certificate (operator scenario only).
    operator_pin: str | None = None

    @classmethod
    def resolve(cls, spec: NodeSpec, security: SecurityConfig) -> ServingTls:
        """The scenario the package's ``veil.toml`` fixes; ``ConfigError`` for any other.

        The host writes ``node.json``, so its operator TLS request is honoured only when the
        fingerprinted ``[tls] scenario`` is ``"operator"``: otherwise an operator could put its
        own key in front of a zero-trust app, and nothing the enclave attests would show it.
        """
        package = security.tls_scenario
        requested = (
            "operator" if spec.tls_scenario_is_operator else spec.tls_scenario_override or package
        )
        if requested != package:
            needs = ""
            if requested == "operator":
                needs = '; operator TLS needs tls.scenario = "operator"'
            raise ConfigError(
                f"{NODE_SPEC_FILE} asks for the {requested} TLS scenario, but the package's "
                f'veil.toml has tls.scenario = "{package}"{needs}'
            )
        if package != "operator":
            return cls(scenario=package)
        if spec.operator_tls is None:
            raise ConfigError(
                'the package\'s veil.toml has tls.scenario = "operator": spawn the node with '
                "--untrusted-ssl-cert and --untrusted-ssl-key"
            )
        chain = read_bounded(
            spec.operator_tls.certificate,
            max_bytes=MAX_OPERATOR_TLS_FILE_BYTES,
            what="operator TLS certificate",
            private=False,
        )
        key = read_bounded(
            spec.operator_tls.private_key,
            max_bytes=MAX_OPERATOR_TLS_FILE_BYTES,
            what="operator TLS key",
            private=True,
        )
        try:
            leaf = x509.load_pem_x509_certificates(chain)[0]
        except ValueError as e:
            raise ConfigError(
                f"the operator TLS certificate {spec.operator_tls.certificate} is not PEM: {e}"
            ) from None
        spki = leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(
            scenario="operator",
            operator_chain_pem=chain,
            operator_key_pem=key,
            operator_pin=spki_pin(spki),
        )

    def pin(self, *, ratls_spki_der: bytes, security: SecurityConfig) -> str:
        """The ``tls_pin`` claim (docs/formats.md, "RA-TLS claims")."""
        if self.operator_pin is not None:
            return self.operator_pin
        if self.scenario == "owner-certificate":
            # The owner's key arrives sealed at provisioning, after the claims are signed; the
            # certificate itself is fixed by the package, and provisioning refuses any other.
            if security.tls_certificate_sha256 is None:
                raise ConfigError("owner-certificate package without a certificate digest")
            return security.tls_certificate_sha256
        return spki_pin(ratls_spki_der)

    def __repr__(self) -> str:
        return f"ServingTls(scenario={self.scenario!r})"
