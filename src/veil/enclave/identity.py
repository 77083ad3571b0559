"""Runtime and app identity: what each backend measures, and what a verifier should expect.

The attested identity covers the veil runtime *and* the app (fingerprint + security config),
recorded before any app code runs so the app cannot forge it:

* ``simulated``: one 48-byte digest fixed at launch (:func:`simulated_measurement`);
* ``configfs-tsm`` on TDX: RTMR3 extended once with :func:`tdx_rtmr_event`;
* ``configfs-tsm`` on SEV-SNP: HOST_DATA set at launch to :func:`snp_host_data`;
* ``gramine-sgx``: the fingerprint is a measured manifest constant and a trusted file
  (:func:`gramine_manifest_inputs`); MRENCLAVE itself only ``gramine-sgx-sign`` can compute.

Everything here is pure except :func:`runtime_identity`, which reads the installed runtime.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import veil
from veil._json import loads_strict
from veil.attestation.result import Tee
from veil.crypto.digest import format_tagged_sha256, parse_tagged_sha256
from veil.enclave.backends.interface import BACKEND_NAMES, Measurement
from veil.errors import ConfigError, FormatError, OperationError

__all__ = [
    "APP_IDENTITY_ENCLAVE_PATH",
    "APP_RTMR_INDEX",
    "BACKEND_NAMES",
    "MAX_APP_IDENTITY_FILE_BYTES",
    "RTMR_SIZE",
    "SECURITY_CONFIG_DIGEST_SIZE",
    "RuntimeIdentity",
    "digest_runtime_files",
    "expected_measurement",
    "extend_rtmr",
    "gramine_manifest_inputs",
    "parse_app_identity_file",
    "render_app_identity_file",
    "runtime_identity",
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
#: Largest single runtime file hashed, in bytes: the runtime is Python source, so anything
#: larger is not part of it and hashing it would only stall start-up.
MAX_RUNTIME_FILE_BYTES: Final = 16 * 1024 * 1024

_RUNTIME_FILES_LABEL: Final = b"veil/runtime-files/v1\x00"
_SIMULATED_LABEL: Final = b"veil/simulated-measurement/v1\x00"
_TDX_EVENT_LABEL: Final = b"veil/tdx-rtmr3-app-event/v1\x00"
_SNP_HOST_DATA_LABEL: Final = b"veil/snp-host-data/v1\x00"
_APP_IDENTITY_FORMAT: Final = "veil-app-identity/v1"
_EXCLUDED_DIRS: Final = frozenset({"__pycache__"})
_EXCLUDED_SUFFIXES: Final = (".pyc", ".pyo")


@dataclass(frozen=True)
class RuntimeIdentity:
    """The veil runtime: its release version and ``sha256:`` digest of its source files."""

    version: str
    digest: str

    def __post_init__(self) -> None:
        if not self.version or not self.version.isascii() or not self.version.isprintable():
            raise FormatError("runtime version must be non-empty printable ASCII")
        if len(self.version) > 64:
            raise FormatError("runtime version is longer than 64 characters")
        parse_tagged_sha256(self.digest)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RuntimeIdentity:
        version, digest = data.get("version"), data.get("digest")
        if not isinstance(version, str) or not isinstance(digest, str):
            raise FormatError("runtime identity needs string 'version' and 'digest'")
        return cls(version=version, digest=digest)

    def to_json(self) -> dict[str, str]:
        return {"version": self.version, "digest": self.digest}


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def digest_runtime_files(files: Iterable[tuple[str, bytes]]) -> str:
    """``sha256:`` over a domain label and every (relative POSIX path, content) pair.

    Pairs are sorted by the UTF-8 bytes of their path, and every path and content is prefixed
    with its 8-byte big-endian length, so the digest does not depend on listing order and no
    two trees share an encoding.
    """
    entries = sorted((path.encode("utf-8"), content) for path, content in files)
    hasher = hashlib.sha256(_RUNTIME_FILES_LABEL)
    previous: bytes | None = None
    for path, content in entries:
        if path == previous:
            raise ValueError(f"duplicate runtime path {path!r}")
        previous = path
        hasher.update(_u64(len(path)) + path + _u64(len(content)))
        hasher.update(content)
    return format_tagged_sha256(hasher.digest())


def _runtime_files(root: Path) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if _EXCLUDED_DIRS.intersection(relative.parts) or path.name.endswith(_EXCLUDED_SUFFIXES):
            continue
        if path.is_symlink():
            raise OperationError(f"runtime file {path} is a symbolic link; refusing to hash it")
        if path.is_dir():
            continue
        if not path.is_file():
            raise OperationError(f"runtime path {path} is not a regular file")
        if path.stat().st_size > MAX_RUNTIME_FILE_BYTES:
            raise OperationError(f"runtime file {path} is larger than {MAX_RUNTIME_FILE_BYTES}")
        files.append((relative.as_posix(), path.read_bytes()))
    return files


def runtime_identity(root: Path | None = None, *, version: str | None = None) -> RuntimeIdentity:
    """The identity of the installed veil runtime (or of the package tree at ``root``).

    Hashes every file of the ``veil`` package except ``__pycache__`` and compiled bytecode,
    which Python regenerates and which therefore cannot be part of a reproducible identity.
    """
    package_root = root if root is not None else Path(veil.__file__).resolve().parent
    try:
        files = _runtime_files(package_root)
    except OSError as e:
        raise OperationError(f"cannot read the veil runtime at {package_root}: {e}") from e
    if not files:
        raise OperationError(f"no runtime files found under {package_root}")
    return RuntimeIdentity(version=version or veil.__version__, digest=digest_runtime_files(files))


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
    if len(data) > MAX_APP_IDENTITY_FILE_BYTES:
        raise FormatError("app identity file is too large")
    try:
        document = loads_strict(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise FormatError("app identity file is not JSON") from e
    if not isinstance(document, dict) or document.get("format") != _APP_IDENTITY_FORMAT:
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
      of ``rtmr_initial`` (all zeros on a guest whose boot chain leaves RTMR3 alone); MRTD and
      RTMR0-2 measure the VM image and are the image policy's business.
    * ``configfs-tsm`` with ``tee=Tee.SEV_SNP``: ``{"host_data": …}``.
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
