"""The measurement report (``veil.identity.report``): what ``veil measure`` prints, as data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.identity.test_image_reference import tdx_document
from veil.attestation.result import Tee
from veil.crypto.digest import sha256_tagged
from veil.identity.app import (
    RTMR_SIZE,
    expected_measurement,
    security_config_digest,
    snp_host_data,
    tdx_rtmr_event,
)
from veil.identity.environment import SIMULATED_IMAGE_REGISTER
from veil.identity.image import guest_measurement
from veil.identity.reference import ImageReference
from veil.identity.report import GRAMINE_NOTE, measurement_report
from veil.identity.runtime import RuntimeIdentity

RUNTIME = RuntimeIdentity(version="9.9.9", digest=sha256_tagged(b"a runtime release"))
FINGERPRINT = sha256_tagged(b"an app")
CONFIG = json.dumps({"tls": {"scenario": "zero-trust"}}).encode()


def _report(backend: str, **options: Any) -> dict[str, Any]:
    return measurement_report(
        app_name="demo",
        fingerprint=FINGERPRINT,
        security_config_json=CONFIG,
        runtime=RUNTIME,
        backend=backend,
        **options,
    )


def test_simulated_report_adds_this_machines_image() -> None:
    report = _report("simulated")
    expected = expected_measurement(
        backend="simulated",
        runtime=RUNTIME,
        fingerprint=FINGERPRINT,
        security_config_digest=security_config_digest(CONFIG),
        rtmr_initial=bytes(RTMR_SIZE),
    )
    values = report["measurement"]["values"]
    assert {k: v for k, v in values.items() if k != SIMULATED_IMAGE_REGISTER} == expected.values
    assert (
        values[SIMULATED_IMAGE_REGISTER]
        == (report["image"]["measurements"][SIMULATED_IMAGE_REGISTER])
    )
    assert report["security_config_digest"] == security_config_digest(CONFIG).hex()


def test_gramine_report_has_inputs_not_a_measurement() -> None:
    report = _report("gramine-sgx")
    assert report["measurement"] is None
    assert report["note"] == GRAMINE_NOTE
    assert FINGERPRINT in report["app_identity_file"]


def test_guest_report_without_an_image_gives_the_template() -> None:
    digest = security_config_digest(CONFIG)
    tdx = _report("configfs-tsm", tee=Tee.TDX)
    assert tdx["app_register"] == {
        "name": "rtmr3_event",
        "value": tdx_rtmr_event(RUNTIME, FINGERPRINT, digest).hex(),
    }
    assert tdx["image"] is None
    assert tdx["image_reference_template"]
    snp = _report("configfs-tsm", tee=Tee.SEV_SNP)
    assert snp["app_register"]["value"] == snp_host_data(RUNTIME, FINGERPRINT, digest).hex()


def test_guest_report_with_an_image_is_the_whole_measurement() -> None:
    image = ImageReference.from_json(json.dumps(tdx_document()).encode())
    report = _report("configfs-tsm", tee=Tee.TDX, image=image)
    event = tdx_rtmr_event(RUNTIME, FINGERPRINT, security_config_digest(CONFIG))
    assert report["measurement"] == guest_measurement(image, event).to_json()
    assert report["image"] == image.to_json()


def test_an_image_of_another_tee_is_misuse() -> None:
    image = ImageReference.from_json(json.dumps(tdx_document()).encode())
    with pytest.raises(ValueError, match="its own TEE"):
        _report("configfs-tsm", tee=Tee.SEV_SNP, image=image)
