"""The one interface every TEE backend implements, and the measurement model it reports."""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

from veil.attestation.result import Tee
from veil.identity.measurement import BACKEND_NAMES, Measurement

__all__ = [
    "BACKEND_NAMES",
    "REPORT_DATA_SIZE",
    "SEALING_KEY_SIZE",
    "Backend",
    "Measurement",
    "check_report_data",
    "check_sealing_label",
]

#: Size of the caller-chosen data bound into every quote, in bytes (SGX REPORTDATA, TDX
#: REPORTDATA, SEV-SNP REPORT_DATA and the simulated quote all hold exactly 64).
REPORT_DATA_SIZE: Final = 64
#: Size of a key returned by ``Backend.sealing_key``, in bytes (AES-256 / HKDF-SHA256 output).
SEALING_KEY_SIZE: Final = 32
#: Longest sealing-key label, in UTF-8 bytes: labels are short purpose names, not data.
MAX_SEALING_LABEL_BYTES: Final = 128


def check_report_data(report_data: bytes) -> None:
    """Refuse report data that is not exactly 64 bytes (a programming error, not bad input)."""
    if not isinstance(report_data, bytes | bytearray):
        raise TypeError("report_data must be bytes")
    if len(report_data) != REPORT_DATA_SIZE:
        raise ValueError(f"report_data must be exactly {REPORT_DATA_SIZE} bytes")


def check_sealing_label(label: str) -> bytes:
    """The UTF-8 form of a sealing-key label; refuses empty, over-long or NUL-containing ones."""
    if not isinstance(label, str):
        raise TypeError("sealing key label must be a string")
    encoded = label.encode("utf-8")
    if not encoded or len(encoded) > MAX_SEALING_LABEL_BYTES or "\x00" in label:
        raise ValueError(
            f"sealing key label must be 1-{MAX_SEALING_LABEL_BYTES} UTF-8 bytes without NUL"
        )
    return encoded


@runtime_checkable
class Backend(Protocol):
    """A TEE as seen from inside it: quotes, the attested identity and sealing keys.

    Implementations: :mod:`.simulated` (software only, protects nothing), :mod:`.gramine_sgx`
    (Intel SGX under Gramine) and :mod:`.configfs_tsm` (Intel TDX and AMD SEV-SNP guests on
    Linux). Test fakes implement the same protocol.
    """

    #: The backend's name as given to :func:`veil.enclave.backends.open_backend`.
    name: str
    #: The kind of TEE whose quotes this backend produces.
    tee: Tee

    def quote(self, report_data: bytes) -> bytes:
        """A raw quote (or report) over exactly 64 bytes of ``report_data``.

        The backend checks that the quote it got back carries these 64 bytes and raises
        :class:`veil.enclave.backends.errors.ReportDataMismatchError` otherwise.
        """
        ...

    def measurement(self) -> Measurement:
        """The identity this enclave attests to right now (never ``report_data``)."""
        ...

    def sealing_key(self, label: str) -> bytes:
        """A 32-byte key for ``label``, derived from the platform's sealing root and the
        attested identity (runtime and app): another app or runtime gets another key."""
        ...

    def extend_app_identity(self, fingerprint: str, security_config_digest: bytes) -> None:
        """Record the app identity in the attested measurement before any app code runs.

        TDX: extends an RTMR; SGX: checks it equals the manifest-measured value; simulated:
        checks it equals the value fixed at launch. Raises
        :class:`veil.enclave.backends.errors.AppIdentityMismatchError` when it cannot be
        recorded as given, so the runtime never starts an app the evidence does not name.
        """
        ...
