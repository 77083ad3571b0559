"""The Linux configfs-tsm backend: TDX and SEV-SNP guests through ``/sys/kernel/config/tsm``.

Report ABI (Linux ``Documentation/ABI/testing/configfs-tsm-report``, since v6.7): ``mkdir``
an entry under ``report/``, read ``generation``, write up to 64 bytes to ``inblob``, read
``outblob`` (a TDX quote or an SEV-SNP report, per ``provider``), re-read ``generation``:
it counts writes, so anything but one more means a concurrent writer changed the request
and the blob may not be ours. Then ``rmdir`` the entry.

App identity (before any app code runs):

* TDX: RTMR3 is extended once through the kernel's TSM measurement sysfs file
  ``/sys/devices/virtual/misc/tdx_guest/measurements/rtmr3:sha384`` (Linux ABI
  ``sysfs-devices-virtual-misc-tdx_guest``, since v6.16: a 48-byte write at offset 0 performs
  TDG.MR.RTMR.EXTEND; a read returns the register).
* SEV-SNP: no runtime-extendable register exists; the guest must be launched with HOST_DATA
  equal to :func:`veil.identity.app.snp_host_data`, which the runtime checks.

When the platform cannot record it (older kernel, HOST_DATA unset) the backend refuses to
start unless ``allow_unmeasured_app_insecure=True``. Neither TEE offers a sealing key here
(TDX has none; SNP's derived key needs the ``/dev/sev-guest`` ioctl), so
:meth:`ConfigfsTsmBackend.sealing_key` raises: sealed storage needs a key broker.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Final

from veil.attestation.quote import MAX_QUOTE_BYTES, measurements_of, parse_quote
from veil.attestation.result import Tee
from veil.attestation.snp_report import parse_snp_report, snp_measurements_of
from veil.enclave.backends._devfs import DeviceFiles, OsDeviceFiles, read_exact, read_text_line
from veil.enclave.backends.errors import (
    AppIdentityMismatchError,
    BackendConfigError,
    DeviceError,
    DeviceFormatError,
    ReportDataMismatchError,
)
from veil.enclave.backends.interface import Measurement, check_report_data
from veil.identity.app import APP_RTMR_INDEX, RTMR_SIZE, extend_rtmr, snp_host_data, tdx_rtmr_event
from veil.identity.runtime import RuntimeIdentity

__all__ = [
    "DEFAULT_REPORT_DIR",
    "DEFAULT_RTMR_PATH",
    "MAX_REPORT_ATTEMPTS",
    "PROVIDERS",
    "ConfigfsTsmBackend",
]

_log = logging.getLogger(__name__)

DEFAULT_REPORT_DIR: Final = Path("/sys/kernel/config/tsm/report")
DEFAULT_RTMR_PATH: Final = Path(
    f"/sys/devices/virtual/misc/tdx_guest/measurements/rtmr{APP_RTMR_INDEX}:sha384"
)
#: ``provider`` attribute values (the kernel module names) and the TEE each one reports.
PROVIDERS: Final = {"tdx_guest": Tee.TDX, "sev_guest": Tee.SEV_SNP}
#: Reports retried when another writer changed the entry under us, before giving up.
MAX_REPORT_ATTEMPTS: Final = 3
_MAX_ATTRIBUTE_BYTES: Final = 64


class ConfigfsTsmBackend:
    """TDX quotes / SEV-SNP reports from configfs-tsm; app identity in RTMR3 or HOST_DATA.

    ``runtime`` is this runtime's identity (part of the recorded app identity). Paths and
    file access are configurable for tests.
    """

    name: str = "configfs-tsm"

    def __init__(
        self,
        *,
        runtime: RuntimeIdentity,
        report_dir: Path = DEFAULT_REPORT_DIR,
        rtmr_path: Path = DEFAULT_RTMR_PATH,
        files: DeviceFiles | None = None,
        allow_unmeasured_app_insecure: bool = False,
    ) -> None:
        self._runtime = runtime
        self._report_dir = report_dir
        self._rtmr_path = rtmr_path
        self._files: DeviceFiles = files or OsDeviceFiles()
        self._allow_unmeasured = allow_unmeasured_app_insecure
        # Two locks: recording the app identity on SEV-SNP requests a report itself.
        self._report_lock = threading.Lock()
        self._identity_lock = threading.Lock()
        self._recorded_app: tuple[str, bytes] | None = None
        #: RTMR3 before veil extended it (a verifier needs it when it is not all zeros).
        self.app_rtmr_initial: bytes | None = None
        if allow_unmeasured_app_insecure:
            _log.warning(
                "configfs-tsm: allow_unmeasured_app_insecure is set; the evidence may not "
                "name the app that runs"
            )
        if not report_dir.is_dir():
            raise BackendConfigError(
                f"{report_dir} does not exist: configfs-tsm needs Linux >= 6.7 with configfs "
                "mounted and the tdx_guest or sev_guest driver loaded"
            )
        self._provider = self._probe_provider()
        self.tee: Tee = PROVIDERS[self._provider]

    def _new_entry(self) -> Path:
        entry = self._report_dir / f"veil-{os.getpid()}-{secrets.token_hex(6)}"
        self._files.mkdir(entry)
        return entry

    def _remove_entry(self, entry: Path) -> None:
        # A leftover entry only wastes a little kernel memory; never mask the real outcome.
        with contextlib.suppress(DeviceError):
            self._files.rmdir(entry)

    def _read_provider(self, entry: Path) -> str:
        provider = read_text_line(
            self._files, entry / "provider", max_bytes=_MAX_ATTRIBUTE_BYTES, what="TSM provider"
        )
        if provider not in PROVIDERS:
            raise BackendConfigError(
                f"unsupported configfs-tsm provider {provider!r}; expected one of "
                f"{', '.join(sorted(PROVIDERS))}"
            )
        return provider

    def _probe_provider(self) -> str:
        entry = self._new_entry()
        try:
            return self._read_provider(entry)
        finally:
            self._remove_entry(entry)

    def _read_generation(self, entry: Path) -> int:
        text = read_text_line(
            self._files, entry / "generation", max_bytes=_MAX_ATTRIBUTE_BYTES, what="generation"
        )
        if not text.isdigit():
            raise DeviceFormatError(f"configfs-tsm generation {text!r} is not a number")
        return int(text)

    def _request_once(self, report_data: bytes) -> bytes | None:
        """One request on a fresh entry; ``None`` when a concurrent writer interfered."""
        entry = self._new_entry()
        try:
            if self._read_provider(entry) != self._provider:
                raise DeviceError("configfs-tsm provider changed while running")
            before = self._read_generation(entry)
            self._files.write(entry / "inblob", report_data)
            blob = self._files.read(entry / "outblob", max_bytes=MAX_QUOTE_BYTES)
            after = self._read_generation(entry)
        finally:
            self._remove_entry(entry)
        if after != before + 1:
            _log.warning(
                "configfs-tsm entry changed under us (generation %d -> %d); retrying",
                before,
                after,
            )
            return None
        return blob

    def _request(self, report_data: bytes) -> bytes:
        for _ in range(MAX_REPORT_ATTEMPTS):
            blob = self._request_once(report_data)
            if blob is not None:
                return blob
        raise DeviceError(
            f"configfs-tsm report changed under us {MAX_REPORT_ATTEMPTS} times: another "
            "process is writing to our entry"
        )

    def _report_data_of(self, blob: bytes) -> bytes:
        if self.tee == Tee.SEV_SNP:
            return parse_snp_report(blob).report_data
        quote = parse_quote(blob)
        if quote.tee != Tee.TDX:
            raise DeviceFormatError(f"tdx_guest returned a {quote.tee.value} quote")
        return quote.report_data

    def quote(self, report_data: bytes) -> bytes:
        check_report_data(report_data)
        with self._report_lock:
            blob = self._request(bytes(report_data))
        if len(blob) > MAX_QUOTE_BYTES:
            raise DeviceFormatError(f"configfs-tsm outblob is larger than {MAX_QUOTE_BYTES} bytes")
        if not blob:
            raise DeviceFormatError("configfs-tsm returned an empty outblob")
        if not hmac.compare_digest(self._report_data_of(blob), bytes(report_data)):
            raise ReportDataMismatchError(
                "the report from configfs-tsm does not carry the report data just written"
            )
        return blob

    def measurement(self) -> Measurement:
        # Not cached: RTMR3 changes when the app identity is recorded.
        blob = self.quote(bytes(64))
        if self.tee == Tee.SEV_SNP:
            values = snp_measurements_of(parse_snp_report(blob))
            values.pop("report_data", None)
            return Measurement(Tee.SEV_SNP, values)
        values = measurements_of(parse_quote(blob))
        values.pop("report_data", None)
        return Measurement(Tee.TDX, values)

    def sealing_key(self, label: str) -> bytes:
        if self.tee == Tee.TDX:
            reason = "Intel TDX has no hardware sealing key"
        else:
            reason = "SEV-SNP derived keys need the /dev/sev-guest ioctl, which veil does not use"
        raise BackendConfigError(
            f"{reason}: sealed storage on the configfs-tsm backend needs a key broker that "
            "releases keys after verifying this guest's evidence"
        )

    def extend_app_identity(self, fingerprint: str, security_config_digest: bytes) -> None:
        app = (fingerprint, bytes(security_config_digest))
        with self._identity_lock:
            if self._recorded_app is not None:
                if self._recorded_app != app:
                    raise AppIdentityMismatchError(
                        f"app identity already recorded for {self._recorded_app[0]}; a register "
                        "cannot be un-extended"
                    )
                return
            if self.tee == Tee.TDX:
                self._extend_rtmr(fingerprint, bytes(security_config_digest))
            else:
                self._check_host_data(fingerprint, bytes(security_config_digest))
            self._recorded_app = app

    def _unmeasured(self, reason: str) -> None:
        if not self._allow_unmeasured:
            raise BackendConfigError(
                f"{reason}; refusing to run an app the evidence does not name "
                "(allow_unmeasured_app_insecure overrides this)"
            )
        _log.warning("configfs-tsm: %s; running anyway (insecure)", reason)

    def _extend_rtmr(self, fingerprint: str, security_config_digest: bytes) -> None:
        if not self._rtmr_path.exists():
            self._unmeasured(
                f"{self._rtmr_path} is missing: extending RTMR{APP_RTMR_INDEX} needs Linux >= "
                "6.16 (TSM measurement registers in the tdx_guest driver)"
            )
            return
        event = tdx_rtmr_event(self._runtime, fingerprint, security_config_digest)
        before = read_exact(self._files, self._rtmr_path, RTMR_SIZE, what="RTMR value")
        self._files.write(self._rtmr_path, event)
        after = read_exact(self._files, self._rtmr_path, RTMR_SIZE, what="RTMR value")
        if not hmac.compare_digest(after, extend_rtmr(before, event)):
            raise AppIdentityMismatchError(
                f"RTMR{APP_RTMR_INDEX} did not extend as expected (a concurrent extension?); "
                "the evidence would not name this app"
            )
        self.app_rtmr_initial = before

    def _check_host_data(self, fingerprint: str, security_config_digest: bytes) -> None:
        expected = snp_host_data(self._runtime, fingerprint, security_config_digest)
        actual = parse_snp_report(self.quote(bytes(64))).host_data
        if not any(actual):
            self._unmeasured("the SEV-SNP guest was launched without HOST_DATA")
            return
        if not hmac.compare_digest(actual, expected):
            raise AppIdentityMismatchError(
                f"SEV-SNP HOST_DATA {actual.hex()} is not this app's {expected.hex()}; the "
                "guest was launched for another app"
            )

    def __repr__(self) -> str:
        return (
            f"ConfigfsTsmBackend(provider={self._provider!r}, report_dir={str(self._report_dir)!r})"
        )
