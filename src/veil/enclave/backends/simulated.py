"""The simulated backend: software-only evidence for machines without a TEE. PROTECTS NOTHING.

Everything here runs as an ordinary process. The operator can read its memory, its sealing
keys (derived from a file on the operator's own disk) and the simulation root that signs its
quotes. It exists so the whole flow (package, spawn, evidence, verify, seal, run) can be
exercised anywhere; its quotes say ``tee=simulated`` and every default policy refuses them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from veil._io import read_bounded
from veil.attestation.result import Tee
from veil.attestation.simulated import (
    IMAGE_SIZE,
    PLATFORM_ID_SIZE,
    SimulationRoot,
    issue_simulated_quote,
    parse_simulated_quote,
)
from veil.crypto.keyfiles import write_key_file
from veil.enclave.backends._sealing import derive_sealing_key
from veil.enclave.backends.errors import AppIdentityMismatchError, ReportDataMismatchError
from veil.enclave.backends.interface import Measurement, check_report_data
from veil.errors import FormatError, OperationError
from veil.identity.app import simulated_measurement
from veil.identity.environment import SIMULATED_IMAGE_REGISTER, python_environment
from veil.identity.runtime import RuntimeIdentity

__all__ = [
    "PLATFORM_SECRET_FILE_NAME",
    "SimulatedBackend",
    "load_or_create_platform_secret",
    "load_or_create_simulation_root",
]

_log = logging.getLogger(__name__)

#: The simulated platform's sealing secret lives beside the simulation root under this name.
PLATFORM_SECRET_FILE_NAME: Final = "platform.secret"  # noqa: S105 (a file name)
PLATFORM_SECRET_SIZE: Final = 32
#: Largest simulation root PEM read, in bytes (an Ed25519 PKCS#8 PEM is 119 bytes).
MAX_ROOT_PEM_BYTES: Final = 4096
_PLATFORM_ID_LABEL: Final = b"veil/simulated-platform-id/v1\x00"


def _load_or_create(path: Path, create: Callable[[], bytes], *, max_bytes: int) -> bytes:
    """Read ``path``, or create it 0600 with ``create()`` if missing (race-safe: a concurrent
    creator wins and its content is read back)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            write_key_file(path, create(), overwrite=False)
        except OperationError:
            if not path.exists():
                raise
    return read_bounded(path, max_bytes=max_bytes, what="simulation file", private=True)


def load_or_create_simulation_root(path: Path) -> SimulationRoot:
    """The operator host's simulation root at ``path`` (``$VEIL_HOME/simulation/root.pem``),
    generated with mode 0600 on first use."""
    pem = _load_or_create(
        path, lambda: SimulationRoot.generate().to_pem(), max_bytes=MAX_ROOT_PEM_BYTES
    )
    return SimulationRoot.from_pem(pem)


def load_or_create_platform_secret(path: Path) -> bytes:
    """The simulated platform's 32-byte sealing secret, generated 0600 on first use."""
    data = _load_or_create(
        path, lambda: secrets.token_bytes(PLATFORM_SECRET_SIZE), max_bytes=PLATFORM_SECRET_SIZE
    )
    if len(data) != PLATFORM_SECRET_SIZE:
        raise FormatError(f"simulated platform secret {path} must be {PLATFORM_SECRET_SIZE} bytes")
    return data


class SimulatedBackend:
    """Software TEE whose measurement is fixed at launch over (runtime, fingerprint, config).

    ``root_path`` is the simulation root PEM (the platform secret is created beside it).
    The app identity is a constructor argument because a real TEE measures it before the app
    can run; :meth:`extend_app_identity` only confirms it. ``image`` is the 48-byte image
    register, by default the digest of the Python environment this process runs in
    (:mod:`veil.identity.environment`); tests pass another to play a different machine.
    """

    name: str = "simulated"
    tee: Tee = Tee.SIMULATED

    def __init__(
        self,
        *,
        root_path: Path,
        runtime: RuntimeIdentity,
        fingerprint: str,
        security_config_digest: bytes,
        image: bytes | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if image is not None and len(image) != IMAGE_SIZE:
            raise ValueError(f"image must be {IMAGE_SIZE} bytes")
        self._root = load_or_create_simulation_root(root_path)
        self._platform_secret = load_or_create_platform_secret(
            root_path.parent / PLATFORM_SECRET_FILE_NAME
        )
        self._fingerprint = fingerprint
        self._security_config_digest = bytes(security_config_digest)
        self._measurement = simulated_measurement(runtime, fingerprint, security_config_digest)
        # Computed once at start, before any app code runs, like a TEE measures its image.
        self._image = bytes(image) if image is not None else python_environment().image()
        self._platform_id = hashlib.sha256(
            _PLATFORM_ID_LABEL + self._root.public_key_bytes()
        ).digest()[:PLATFORM_ID_SIZE]
        self._clock = clock or (lambda: datetime.now(UTC))
        _log.warning(
            "simulated TEE backend: no hardware protection; the operator can read everything"
        )

    @property
    def root_public_key(self) -> bytes:
        """The simulation root's public key, which a verifier must be given explicitly."""
        return self._root.public_key_bytes()

    def quote(self, report_data: bytes) -> bytes:
        check_report_data(report_data)
        raw = issue_simulated_quote(
            self._root,
            measurement=self._measurement,
            image=self._image,
            report_data=bytes(report_data),
            platform_id=self._platform_id,
            now=self._clock(),
        )
        if parse_simulated_quote(raw).report_data != report_data:
            raise ReportDataMismatchError("simulated quote does not carry the report data")
        return raw

    def measurement(self) -> Measurement:
        return Measurement(
            Tee.SIMULATED,
            {"measurement": self._measurement.hex(), SIMULATED_IMAGE_REGISTER: self._image.hex()},
        )

    def sealing_key(self, label: str) -> bytes:
        return derive_sealing_key(
            self._platform_secret, backend=self.name, label=label, identity=self._measurement
        )

    def extend_app_identity(self, fingerprint: str, security_config_digest: bytes) -> None:
        same_fingerprint = hmac.compare_digest(fingerprint.encode(), self._fingerprint.encode())
        same_config = hmac.compare_digest(
            bytes(security_config_digest), self._security_config_digest
        )
        if not (same_fingerprint and same_config):
            raise AppIdentityMismatchError(
                "app identity differs from the one the simulated enclave was launched with "
                f"(launched for {self._fingerprint}, asked for {fingerprint})"
            )

    def __repr__(self) -> str:
        return f"SimulatedBackend(measurement={self._measurement.hex()[:16]}…)"
