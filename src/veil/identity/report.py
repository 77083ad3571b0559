"""What a verifier should expect for a package on a backend: the report of ``veil measure``."""

from __future__ import annotations

from typing import Any, Final

from veil.attestation.result import Tee
from veil.identity.app import (
    RTMR_SIZE,
    expected_measurement,
    gramine_manifest_inputs,
    render_app_identity_file,
    security_config_digest,
    snp_host_data,
    tdx_rtmr_event,
)
from veil.identity.environment import SIMULATED_IMAGE_REGISTER, python_environment
from veil.identity.image import APP_REGISTER, guest_measurement
from veil.identity.reference import ImageReference, image_reference_template
from veil.identity.runtime import RuntimeIdentity

__all__ = ["GRAMINE_NOTE", "measurement_report", "simulated_image_report"]

#: Why the report has no MRENCLAVE for gramine-sgx.
GRAMINE_NOTE: Final = (
    "MRENCLAVE can only be computed by gramine-sgx-sign over veil.manifest.template rendered "
    "with these inputs (plus the interpreter, libraries and runtime it lists as trusted files)"
)


def simulated_image_report() -> dict[str, Any]:
    """This machine's simulated image: the reference document and what it was computed from."""
    environment = python_environment()
    return {"image": environment.reference().to_json(), "environment": environment.to_json()}


def measurement_report(
    *,
    app_name: str,
    fingerprint: str,
    security_config_json: bytes,
    runtime: RuntimeIdentity,
    backend: str,
    tee: Tee = Tee.TDX,
    rtmr_initial: bytes | None = None,
    image: ImageReference | None = None,
) -> dict[str, Any]:
    """The JSON report of the measurement an enclave running the app must report.

    ``tee`` and ``image`` are for the configfs-tsm backend (``image`` must be for ``tee``);
    ``rtmr_initial`` is RTMR3 before veil extends it (TDX, without an image; default zeros).
    """
    if image is not None and (backend != "configfs-tsm" or image.tee is not tee):
        raise ValueError("an image reference is for the configfs-tsm backend and its own TEE")
    initial = bytes(RTMR_SIZE) if rtmr_initial is None else rtmr_initial
    config_digest = security_config_digest(security_config_json)
    report: dict[str, Any] = {
        "app": app_name,
        "fingerprint": fingerprint,
        "security_config_digest": config_digest.hex(),
        "runtime": runtime.to_json(),
        "backend": backend,
    }
    if backend == "gramine-sgx":
        report["measurement"] = None
        report["gramine_manifest_inputs"] = gramine_manifest_inputs(
            runtime=runtime, fingerprint=fingerprint, security_config_digest=config_digest
        )
        report["app_identity_file"] = render_app_identity_file(fingerprint, config_digest).decode(
            "ascii"
        )
        report["note"] = GRAMINE_NOTE
        return report
    if backend == "configfs-tsm":
        return report | _guest_report(
            runtime,
            fingerprint=fingerprint,
            config_digest=config_digest,
            tee=tee,
            rtmr_initial=initial,
            image=image,
        )
    measurement = expected_measurement(
        backend=backend,
        runtime=runtime,
        fingerprint=fingerprint,
        security_config_digest=config_digest,
        rtmr_initial=initial,
    )
    image_report = simulated_image_report()
    image_value = image_report["image"]["measurements"][SIMULATED_IMAGE_REGISTER]
    report["measurement"] = {
        **measurement.to_json(),
        "values": {**measurement.values, SIMULATED_IMAGE_REGISTER: image_value},
    }
    return report | image_report


def _guest_report(
    runtime: RuntimeIdentity,
    *,
    fingerprint: str,
    config_digest: bytes,
    tee: Tee,
    rtmr_initial: bytes,
    image: ImageReference | None,
) -> dict[str, Any]:
    """TDX / SEV-SNP: the app register veil records, and what the image builder publishes."""
    if tee is Tee.TDX:
        app_register = tdx_rtmr_event(runtime, fingerprint, config_digest)
    else:
        app_register = snp_host_data(runtime, fingerprint, config_digest)
    report: dict[str, Any] = {
        # The RTMR3 event veil extends, or the HOST_DATA the guest must be launched with.
        "app_register": {
            "name": "rtmr3_event" if tee is Tee.TDX else APP_REGISTER[tee],
            "value": app_register.hex(),
        },
    }
    if image is None:
        report["measurement"] = expected_measurement(
            backend="configfs-tsm",
            runtime=runtime,
            fingerprint=fingerprint,
            security_config_digest=config_digest,
            tee=tee,
            rtmr_initial=rtmr_initial,
        ).to_json()
        report["image"] = None
        report["image_reference_template"] = image_reference_template(tee)
        return report
    report["measurement"] = guest_measurement(image, app_register).to_json()
    report["image"] = image.to_json()
    return report
