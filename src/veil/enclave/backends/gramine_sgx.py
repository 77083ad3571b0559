"""The Intel SGX backend under Gramine, through its ``/dev/attestation`` pseudo-files.

Gramine's low-level attestation interface (Gramine docs, "Attestation and Secret
Provisioning"): write 64 bytes to ``user_report_data``, then read ``quote`` for a DCAP quote
over them; ``attestation_type`` says ``none``, ``epid`` or ``dcap``;
``keys/_sgx_mrenclave`` is the 16-byte EGETKEY seal key bound to MRENCLAVE. The pseudo-files
are not thread-safe, so every exchange holds a lock.

The app identity is part of MRENCLAVE: ``veil.manifest.template`` sets the fingerprint as a
``loader.env`` constant and pins the SHA-256 of an app-identity file in ``sgx.trusted_files``
(Gramine refuses to open a trusted file whose hash differs). At start the runtime checks the
decrypted package against that measured identity through :meth:`extend_app_identity`.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from veil.attestation.quote import MAX_QUOTE_BYTES, measurements_of, parse_quote
from veil.attestation.result import Tee
from veil.enclave.backends._devfs import DeviceFiles, OsDeviceFiles, read_exact, read_text_line
from veil.enclave.backends._sealing import derive_sealing_key
from veil.enclave.backends.errors import (
    AppIdentityMismatchError,
    BackendConfigError,
    DeviceFormatError,
    ReportDataMismatchError,
)
from veil.enclave.backends.interface import Measurement, check_report_data
from veil.errors import FormatError
from veil.identity.app import (
    APP_IDENTITY_ENCLAVE_PATH,
    MAX_APP_IDENTITY_FILE_BYTES,
    parse_app_identity_file,
)

__all__ = [
    "DEFAULT_ATTESTATION_DIR",
    "FINGERPRINT_ENV",
    "SGX_SEAL_KEY_SIZE",
    "GramineSgxBackend",
]

DEFAULT_ATTESTATION_DIR: Final = Path("/dev/attestation")
#: The manifest-measured ``loader.env`` constant holding the app fingerprint.
FINGERPRINT_ENV: Final = "VEIL_APP_FINGERPRINT"
#: Gramine's ``_sgx_mrenclave`` special key is a raw 128-bit SGX seal key.
SGX_SEAL_KEY_SIZE: Final = 16
_MAX_ATTESTATION_TYPE_BYTES: Final = 16
_SEAL_KEY_NAME: Final = "_sgx_mrenclave"


class GramineSgxBackend:
    """SGX DCAP quotes and MRENCLAVE-bound sealing keys from Gramine's pseudo-files.

    ``attestation_dir`` and ``identity_file`` are configurable for tests; in an enclave they
    are ``/dev/attestation`` and the manifest's trusted ``/veil/app-identity.json``.
    """

    name: str = "gramine-sgx"
    tee: Tee = Tee.SGX

    def __init__(
        self,
        *,
        attestation_dir: Path = DEFAULT_ATTESTATION_DIR,
        identity_file: Path = Path(APP_IDENTITY_ENCLAVE_PATH),
        environ: Mapping[str, str] | None = None,
        files: DeviceFiles | None = None,
    ) -> None:
        self._dir = attestation_dir
        self._files: DeviceFiles = files or OsDeviceFiles()
        self._lock = threading.Lock()
        self._measurement: Measurement | None = None
        attestation_type = read_text_line(
            self._files,
            self._dir / "attestation_type",
            max_bytes=_MAX_ATTESTATION_TYPE_BYTES,
            what="Gramine attestation type",
        )
        if attestation_type != "dcap":
            raise BackendConfigError(
                f"Gramine attestation type is {attestation_type!r}, not 'dcap': set "
                'sgx.remote_attestation = "dcap" in the manifest'
            )
        self._fingerprint, self._config_digest = self._read_measured_identity(
            identity_file, os.environ if environ is None else environ
        )

    def _read_measured_identity(
        self, identity_file: Path, environ: Mapping[str, str]
    ) -> tuple[str, bytes]:
        data = self._files.read(identity_file, max_bytes=MAX_APP_IDENTITY_FILE_BYTES)
        try:
            fingerprint, config_digest = parse_app_identity_file(data)
        except FormatError as e:
            raise DeviceFormatError(f"measured app identity {identity_file}: {e}") from e
        env_fingerprint = environ.get(FINGERPRINT_ENV)
        if env_fingerprint is None:
            raise BackendConfigError(
                f"{FINGERPRINT_ENV} is not set: the enclave was not built from "
                "veil.manifest.template"
            )
        if not hmac.compare_digest(env_fingerprint.encode(), fingerprint.encode()):
            raise AppIdentityMismatchError(
                f"manifest {FINGERPRINT_ENV} ({env_fingerprint}) differs from the measured "
                f"app identity file ({fingerprint})"
            )
        return fingerprint, config_digest

    def quote(self, report_data: bytes) -> bytes:
        check_report_data(report_data)
        with self._lock:
            self._files.write(self._dir / "user_report_data", bytes(report_data))
            raw = self._files.read(self._dir / "quote", max_bytes=MAX_QUOTE_BYTES)
        if len(raw) > MAX_QUOTE_BYTES:
            raise DeviceFormatError(f"Gramine quote is larger than {MAX_QUOTE_BYTES} bytes")
        if not raw:
            raise DeviceFormatError("Gramine returned an empty quote")
        parsed = parse_quote(raw)
        if parsed.tee != Tee.SGX:
            raise DeviceFormatError(f"Gramine returned a {parsed.tee.value} quote, not SGX")
        if not hmac.compare_digest(parsed.report_data, bytes(report_data)):
            raise ReportDataMismatchError(
                "the quote from /dev/attestation/quote does not carry the report data just "
                "written (stale or foreign quote)"
            )
        return raw

    def measurement(self) -> Measurement:
        # MRENCLAVE, MRSIGNER and the rest are fixed for the enclave's lifetime.
        if self._measurement is None:
            values = measurements_of(parse_quote(self.quote(bytes(64))))
            values.pop("report_data", None)
            self._measurement = Measurement(Tee.SGX, values)
        return self._measurement

    def sealing_key(self, label: str) -> bytes:
        with self._lock:
            root = read_exact(
                self._files,
                self._dir / "keys" / _SEAL_KEY_NAME,
                SGX_SEAL_KEY_SIZE,
                what="SGX MRENCLAVE sealing key",
            )
        # MRENCLAVE already covers runtime and app; the app identity in the info is a second,
        # explicit binding that survives a manifest that forgot to measure it.
        identity = self._fingerprint.encode("ascii") + self._config_digest
        return derive_sealing_key(root, backend=self.name, label=label, identity=identity)

    def extend_app_identity(self, fingerprint: str, security_config_digest: bytes) -> None:
        same_fingerprint = hmac.compare_digest(fingerprint.encode(), self._fingerprint.encode())
        same_config = hmac.compare_digest(bytes(security_config_digest), self._config_digest)
        if not (same_fingerprint and same_config):
            raise AppIdentityMismatchError(
                f"package {fingerprint} is not the app this enclave's manifest measured "
                f"({self._fingerprint}); refusing to run it"
            )

    def __repr__(self) -> str:
        return f"GramineSgxBackend(attestation_dir={str(self._dir)!r})"
