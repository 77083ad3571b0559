"""veil's error tree: one root, subtrees by cause.

::

    VeilError
    ├── InvalidDataError          bad input: evidence, packages, files, requests
    │   ├── FormatError           malformed, truncated or oversized bytes / JSON / TOML
    │   ├── DecryptionError       opaque: any decryption or unsealing failure
    │   ├── VerificationError     well-formed but fails a security check
    │   │   ├── AttestationError  a quote, its collateral or a policy said no
    │   │   └── BindingError      keys, nonces or fingerprints do not match the evidence
    │   └── ProvisioningError     the enclave refused what it was sent
    ├── ServiceError              a service could not be reached or answered badly
    ├── ConfigError               bad configuration (veil.toml, CLI options, local state)
    └── OperationError            a local operation failed (process, file, timeout)

Programmer misuse (wrong types, impossible arguments) raises builtins instead. Foreign
exceptions are wrapped at the boundary with ``raise ... from e`` so callers catch one tree.
"""

from __future__ import annotations

__all__ = [
    "AttestationError",
    "BindingError",
    "ConfigError",
    "DecryptionError",
    "FormatError",
    "InvalidDataError",
    "OperationError",
    "ProvisioningError",
    "ServiceError",
    "VeilError",
    "VerificationError",
]


class VeilError(Exception):
    """Root of every error veil raises on purpose."""

    #: Process exit code the CLI uses for this kind of error.
    exit_code: int = 1


class InvalidDataError(VeilError):
    """Input that veil refuses: malformed, tampered, replayed or not what was expected."""

    exit_code = 2


class FormatError(InvalidDataError):
    """Bytes, JSON or TOML that do not parse as the expected structure, or exceed a limit."""


class DecryptionError(InvalidDataError):
    """Decryption or unsealing failed.

    Deliberately carries no detail (wrong key, tampering, truncation and reordering are
    indistinguishable) so that it is never an oracle for an attacker.
    """

    def __init__(self, message: str = "decryption failed") -> None:
        super().__init__(message)


class VerificationError(InvalidDataError):
    """Well-formed input that fails a security check."""

    exit_code = 3


class AttestationError(VerificationError):
    """Attestation evidence, its collateral, or the policy applied to it was refused."""


class BindingError(VerificationError):
    """A key, nonce, fingerprint or measurement does not match what the evidence binds."""


class ProvisioningError(InvalidDataError):
    """An enclave refused provisioning (sealed secrets) or is in the wrong state for it."""


class ServiceError(VeilError):
    """A remote service (PCS, PCCS, an enclave, the control plane) was unreachable or failed."""

    exit_code = 4


class ConfigError(VeilError):
    """Bad configuration: ``veil.toml``, command-line options, or local state files."""

    exit_code = 5


class OperationError(VeilError):
    """A local operation failed: a process did not start, a file could not be written, a wait
    timed out."""

    exit_code = 6
