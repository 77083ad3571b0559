"""What an enclave attests to: runtime, app and guest image identity, and the measurement model.

The verifier side (owner, users, the key broker) and the enclave both compute these values;
neither needs the other's code to do it (``enclave/`` records them, ``client/`` and ``owner/``
expect them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.identity.app import (
        APP_RTMR_INDEX,
        RTMR_SIZE,
        expected_measurement,
        security_config_digest,
    )
    from veil.identity.image import guest_measurement
    from veil.identity.measurement import BACKEND_NAMES, Measurement
    from veil.identity.reference import ImageReference, read_image_reference
    from veil.identity.runtime import RuntimeIdentity, runtime_identity

__all__ = [
    "APP_RTMR_INDEX",
    "BACKEND_NAMES",
    "RTMR_SIZE",
    "ImageReference",
    "Measurement",
    "RuntimeIdentity",
    "expected_measurement",
    "guest_measurement",
    "read_image_reference",
    "runtime_identity",
    "security_config_digest",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "app": ("APP_RTMR_INDEX", "RTMR_SIZE", "expected_measurement", "security_config_digest"),
        "image": ("guest_measurement",),
        "measurement": ("BACKEND_NAMES", "Measurement"),
        "reference": ("ImageReference", "read_image_reference"),
        "runtime": ("RuntimeIdentity", "runtime_identity"),
    },
)
