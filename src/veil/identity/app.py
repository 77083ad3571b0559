"""The app identity each backend records, and what a verifier should expect of it.

The attested identity covers the veil runtime *and* the app (fingerprint + security config),
recorded before any app code runs so the app cannot forge it:

* ``simulated``: one 48-byte digest fixed at launch (:func:`simulated_measurement`);
* ``configfs-tsm`` on TDX: RTMR3 extended once with :func:`tdx_rtmr_event`;
* ``configfs-tsm`` on SEV-SNP: HOST_DATA set at launch to :func:`snp_host_data`;
* ``gramine-sgx``: the fingerprint is a measured manifest constant and a trusted file
  (:func:`gramine_manifest_inputs`); MRENCLAVE itself only ``gramine-sgx-sign`` can compute.

Everything here is pure: the verifier side (owner, user) computes the same values the enclave
records, without importing the enclave runtime.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

from veil._json import load_json_object
from veil.attestation.result import Tee
from veil.crypto.digest import parse_tagged_sha256
from veil.errors import ConfigError, FormatError
from veil.identity.measurement import BACKEND_NAMES, Measurement
from veil.identity.runtime import RuntimeIdentity

__all__ = [
    "APP_IDENTITY_ENCLAVE_PATH",
    "APP_RTMR_INDEX",
    "MAX_APP_IDENTITY_FILE_BYTES",
    "RTMR_SIZE",
    "SECURITY_CONFIG_DIGEST_SIZE",
    "expected_measurement",
    "extend_rtmr",
    "gramine_manifest_inputs",
    "parse_app_identity_file",
    "render_app_identity_file",
    "security_config_digest",
    "simulated_measurement",
    "snp_host_data",
    "tdx_rtmr_event",
]

#: The security-config digest is a raw SHA-256.
SECURITY_CONFIG_DIGEST_SIZE: Final = 32
#: TDX runtime measurement registers are SHA-384 values.
RTMR_SIZE: Final = 48
#: RTMR0-2 hold firmware, boot loader/kernel and OS measurements; RTMR3 is left to
#: applications by the TDX guest firmware and kernel, so veil records the app identity there.
APP_RTMR_INDEX: Final = 3
#: Where the Gramine manifest mounts the measured app-identity file inside the enclave.
APP_IDENTITY_ENCLAVE_PATH: Final = "/veil/app-identity.json"
#: Largest app-identity file read, in bytes (a valid one is about 170 bytes).
MAX_APP_IDENTITY_FILE_BYTES: Final = 4096

_SIMULATED_LABEL: Final = b"veil/simulated-measurement/v1\x00"
_TDX_EVENT_LABEL: Final = b"veil/tdx-rtmr3-app-event/v1\x00"
_SNP_HOST_DATA_LABEL: Final = b"veil/snp-host-data/v1\x00"
_APP_IDENTITY_FORMAT: Final = "veil-app-identity/v1"


def security_config_digest(security_config_json: bytes) -> bytes:
    """The 32-byte digest recorded in the attested identity: plain SHA-256 of the canonical
    security-config JSON exactly as stored in the package header."""
    return hashlib.sha256(security_config_json).digest()


def _check_app(fingerprint: str, security_config_digest: bytes) -> bytes:
    fingerprint_raw = parse_tagged_sha256(fingerprint)
    if len(security_config_digest) != SECURITY_CONFIG_DIGEST_SIZE:
        raise FormatError(f"security config digest must be {SECURITY_CONFIG_DIGEST_SIZE} bytes")
    return fingerprint_raw


def _identity_encoding(
    label: bytes, runtime: RuntimeIdentity, fingerprint: str, security_config_digest: bytes
) -> bytes:
    fingerprint_raw = _check_app(fingerprint, security_config_digest)
    version = runtime.version.encode("ascii")
    return (
        label
        + len(version).to_bytes(1, "big")
        + version
        + parse_tagged_sha256(runtime.digest)
        + fingerprint_raw
        + bytes(security_config_digest)
    )


def simulated_measurement(
    runtime: RuntimeIdentity, fingerprint: str, security_config_digest: bytes
) -> bytes:
    """The simulated backend's 48-byte measurement: SHA-384 over (label, runtime, app)."""
    encoded = _identity_encoding(_SIMULATED_LABEL, runtime, fingerprint, security_config_digest)
    return hashlib.sha384(encoded).digest()


def tdx_rtmr_event(
    runtime: RuntimeIdentity, fingerprint: str, security_config_digest: bytes
) -> bytes:
    """The 48-byte value extended into RTMR3 on TDX before the app starts."""
    encoded = _identity_encoding(_TDX_EVENT_LABEL, runtime, fingerprint, security_config_digest)
    return hashlib.sha384(encoded).digest()


def snp_host_data(
    runtime: RuntimeIdentity, fingerprint: str, security_config_digest: bytes
) -> bytes:
    """The 32-byte HOST_DATA an SEV-SNP guest must be launched with for this app."""
    encoded = _identity_encoding(_SNP_HOST_DATA_LABEL, runtime, fingerprint, security_config_digest)
    return hashlib.sha256(encoded).digest()


def extend_rtmr(current: bytes, event: bytes) -> bytes:
    """TDX RTMR extension (TDG.MR.RTMR.EXTEND): new = SHA-384(current ‖ event)."""
    if len(current) != RTMR_SIZE or len(event) != RTMR_SIZE:
        raise ValueError(f"RTMR values and events are {RTMR_SIZE} bytes")
    return hashlib.sha384(current + event).digest()


def render_app_identity_file(fingerprint: str, security_config_digest: bytes) -> bytes:
    """The canonical app-identity file measured into the Gramine manifest (one JSON line)."""
    _check_app(fingerprint, security_config_digest)
    document = {
        "format": _APP_IDENTITY_FORMAT,
        "fingerprint": fingerprint,
        "security_config_digest": bytes(security_config_digest).hex(),
    }
    return (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode("ascii")


def parse_app_identity_file(data: bytes) -> tuple[str, bytes]:
    """(fingerprint, security config digest) from an app-identity file; ``FormatError`` unless
    it is exactly the canonical rendering (one spelling per identity)."""
    document = load_json_object(
        data, max_bytes=MAX_APP_IDENTITY_FILE_BYTES, what="app identity file"
    )
    if document.get("format") != _APP_IDENTITY_FORMAT:
        raise FormatError(f"app identity file is not {_APP_IDENTITY_FORMAT}")
    fingerprint, config_hex = document.get("fingerprint"), document.get("security_config_digest")
    if not isinstance(fingerprint, str) or not isinstance(config_hex, str):
        raise FormatError("app identity file lacks its fingerprint or security config digest")
    try:
        config_digest = bytes.fromhex(config_hex)
    except ValueError as e:
        raise FormatError("app identity security config digest is not hex") from e
    if render_app_identity_file(fingerprint, config_digest) != data:
        raise FormatError("app identity file is not in canonical form")
    return fingerprint, config_digest


def gramine_manifest_inputs(
    *, runtime: RuntimeIdentity, fingerprint: str, security_config_digest: bytes
) -> dict[str, str]:
    """The identity variables for ``gramine-manifest -D`` on ``veil.manifest.template``.

    The app-identity file's SHA-256 is pinned in the manifest (``sgx.trusted_files``), and
    the fingerprint is a ``loader.env`` constant, so MRENCLAVE covers runtime and app. The
    MRENCLAVE value itself can only be computed by ``gramine-sgx-sign`` over the rendered
    manifest together with every trusted file (interpreter, libraries, veil runtime).
    """
    identity_file = render_app_identity_file(fingerprint, security_config_digest)
    return {
        "veil_app_fingerprint": fingerprint,
        "veil_security_config_digest": bytes(security_config_digest).hex(),
        "veil_app_identity_sha256": hashlib.sha256(identity_file).hexdigest(),
        "veil_runtime_version": runtime.version,
        "veil_runtime_digest": runtime.digest,
    }


def expected_measurement(
    *,
    backend: str,
    runtime: RuntimeIdentity,
    fingerprint: str,
    security_config_digest: bytes,
    tee: Tee | None = None,
    rtmr_initial: bytes = bytes(RTMR_SIZE),
) -> Measurement:
    """The measurement a verifier should require for (runtime, app) on ``backend``.

    * ``simulated``: ``{"measurement": …}``, exactly what the simulated quote carries.
    * ``configfs-tsm`` with ``tee=Tee.TDX`` (default): ``{"rtmr3": …}`` after one extension
      of ``rtmr_initial`` (all zeros on a guest whose boot chain leaves RTMR3 alone).
    * ``configfs-tsm`` with ``tee=Tee.SEV_SNP``: ``{"host_data": …}``.

    On TDX and SEV-SNP this app register alone proves nothing: verifiers pin the guest image
    too, with :func:`veil.identity.image.guest_measurement` over its reference values.
    * ``gramine-sgx``: raises ``ConfigError``: use :func:`gramine_manifest_inputs` and
      ``gramine-sgx-sign``.
    """
    if backend == "simulated":
        value = simulated_measurement(runtime, fingerprint, security_config_digest)
        return Measurement(Tee.SIMULATED, {"measurement": value.hex()})
    if backend == "configfs-tsm":
        if tee in (None, Tee.TDX):
            event = tdx_rtmr_event(runtime, fingerprint, security_config_digest)
            rtmr = extend_rtmr(rtmr_initial, event)
            return Measurement(Tee.TDX, {f"rtmr{APP_RTMR_INDEX}": rtmr.hex()})
        if tee == Tee.SEV_SNP:
            host_data = snp_host_data(runtime, fingerprint, security_config_digest)
            return Measurement(Tee.SEV_SNP, {"host_data": host_data.hex()})
        raise ConfigError(f"configfs-tsm provides TDX or SEV-SNP, not {tee}")
    if backend == "gramine-sgx":
        raise ConfigError(
            "MRENCLAVE can only be computed by gramine-sgx-sign over the rendered manifest "
            "and its trusted files; render veil.manifest.template with gramine_manifest_inputs()"
        )
    raise ConfigError(f"unknown backend {backend!r}; expected one of {', '.join(BACKEND_NAMES)}")
