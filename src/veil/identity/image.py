"""The whole guest identity on TDX and SEV-SNP: image reference values plus veil's app register.

RTMR3 (TDX) and HOST_DATA (SEV-SNP) name the app only if the image that extends or checks them
is the published one, so a verifier pins the image registers too (DESIGN.md, "Identity model").
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from veil.attestation.errors import PolicyError
from veil.attestation.result import Tee, VerifiedQuote
from veil.identity.app import APP_RTMR_INDEX, RTMR_SIZE, extend_rtmr
from veil.identity.measurement import Measurement
from veil.identity.reference import IMAGE_TEES, ImageReference

__all__ = [
    "APP_REGISTER",
    "SNP_RULE_FIELDS",
    "ImageRequired",
    "MatchesImage",
    "guest_measurement",
    "missing_image_message",
    "replay_rtmr",
]

#: The register that carries veil's app identity on each TEE.
APP_REGISTER: Final = {Tee.TDX: f"rtmr{APP_RTMR_INDEX}", Tee.SEV_SNP: "host_data"}
#: The SEV-SNP report fields the default policy checks on every report (``SnpGuest``).
SNP_RULE_FIELDS: Final = ("policy", "vmpl", "signing_key")
_RTMR3 = APP_REGISTER[Tee.TDX]


def replay_rtmr(events: Sequence[bytes]) -> bytes:
    """An RTMR after extending ``events`` in order, starting from zeros (as at TD launch)."""
    value = bytes(RTMR_SIZE)
    for event in events:
        value = extend_rtmr(value, event)
    return value


def guest_measurement(image: ImageReference, app_register: bytes | None) -> Measurement:
    """The registers a guest of ``image`` running the app must report.

    ``app_register`` is veil's RTMR3 event (:func:`veil.identity.app.tdx_rtmr_event`) on TDX,
    or the HOST_DATA (:func:`veil.identity.app.snp_host_data`) on SEV-SNP; ``None`` pins the
    image alone. On TDX, RTMR3 is the replay of the image's events then veil's event.
    """
    values = dict(image.registers)
    if app_register is not None:
        if image.tee is Tee.TDX:
            values[_RTMR3] = replay_rtmr((*image.rtmr3_events, app_register)).hex()
        else:
            values[APP_REGISTER[Tee.SEV_SNP]] = app_register.hex()
    return Measurement(image.tee, values)


def missing_image_message(tee: Tee) -> str:
    register = "RTMR3" if tee is Tee.TDX else "HOST_DATA"
    return (
        f"{tee.value} evidence is refused without the guest image's reference values: the "
        f"operator's image sets {register}, so pass --image FILE (image=... in the library)"
    )


@dataclass(frozen=True)
class ImageRequired:
    """Policy rule: refuse TDX and SEV-SNP quotes (no image reference values were given)."""

    def check(self, verified: VerifiedQuote) -> None:
        if verified.tee in IMAGE_TEES:
            raise PolicyError("image", missing_image_message(verified.tee))


@dataclass(frozen=True)
class MatchesImage:
    """Policy rule: the quote is from a guest of ``image`` that recorded ``app_register``.

    Compares every image register, then the app register, each with its own message (a
    simulated image has no app register here: its ``measurement`` is checked apart). On
    TDX a wrong RTMR3 is told apart: veil's event missing, the image's events missing, or
    another sequence.
    """

    image: ImageReference
    app_register: bytes | None = None

    def expected(self) -> Measurement:
        return guest_measurement(self.image, self.app_register)

    def check(self, verified: VerifiedQuote) -> None:
        if verified.tee is not self.image.tee:
            raise PolicyError(
                "image",
                f"the image reference values are for {self.image.tee.value}, "
                f"the enclave is {verified.tee.value}",
            )
        for name, expected in self.expected().values.items():
            actual = verified.measurements.get(name, "")
            if hmac.compare_digest(actual.lower(), expected):
                continue
            if name in self.image.registers:
                raise PolicyError(name, self._image_mismatch(expected, actual))
            raise PolicyError(name, self._app_mismatch(name, expected, actual))

    def _image_mismatch(self, expected: str, actual: str) -> str:
        got = actual or "(none)"
        if self.image.tee is not Tee.SIMULATED:
            return f"the guest is not image {self.image.describe()}: expected {expected}, got {got}"
        return (
            f"the simulated node's Python environment is not {self.image.describe()}: expected "
            f"{expected}, got {got}; it runs another interpreter or other installed "
            "distributions (compare `veil measure --backend simulated --json` there and here)"
        )

    def _app_mismatch(self, name: str, expected: str, actual: str) -> str:
        got = actual or "(none)"
        if name != _RTMR3 or self.app_register is None:
            return (
                f"HOST_DATA is not this runtime and app's: expected {expected}, got {got} "
                "(the guest was launched for another app)"
            )
        events = self.image.rtmr3_events
        if actual == replay_rtmr(events).hex():
            why = "veil's app event was never extended (an app started outside veil?)"
        elif events and actual == replay_rtmr((self.app_register,)).hex():
            why = f"the image's {len(events)} event(s) are missing (another boot chain?)"
        else:
            why = "the RTMR3 event sequence differs (other events, order or app)"
        return (
            f"RTMR3 is not the replay of image {self.image.name}'s {len(events)} event(s) "
            f"then veil's app event: expected {expected}, got {got}; {why}"
        )
