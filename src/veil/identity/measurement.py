"""The measurement model: what a TEE reports about the code it runs, by register name."""

from __future__ import annotations

import hmac
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from veil.attestation.result import Tee

__all__ = ["BACKEND_NAMES", "Measurement"]

#: The enclave backends, each with its own identity scheme (:mod:`veil.identity.app`); the
#: names accepted by :func:`veil.enclave.backends.open_backend` and ``veil measure``.
BACKEND_NAMES: Final = ("simulated", "gramine-sgx", "configfs-tsm")

_HEX_DIGITS: Final = frozenset(string.hexdigits.lower())


@dataclass(frozen=True)
class Measurement:
    """The identity a TEE reports, by name: ``tee`` plus lower-case hex values.

    Names match :func:`veil.attestation.quote.measurements_of` (``mr_enclave``, ``mr_signer``,
    ``mr_td``, ``rtmr3``…) and the simulated quote (``measurement``), so a verifier can compare
    an expected measurement with ``VerifiedQuote.measurements`` directly.
    """

    tee: Tee
    values: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.tee, Tee):
            raise TypeError("tee must be a veil.attestation.result.Tee")
        normalised: dict[str, str] = {}
        for name, value in self.values.items():
            if not name or not isinstance(value, str):
                raise ValueError("measurement names and values must be non-empty strings")
            lowered = value.lower()
            if not lowered or not _HEX_DIGITS.issuperset(lowered):
                raise ValueError(f"measurement {name!r} must be hexadecimal or decimal digits")
            normalised[name] = lowered
        object.__setattr__(self, "values", MappingProxyType(normalised))

    def is_matched_by(self, tee: Tee, measurements: Mapping[str, str]) -> bool:
        """True when ``measurements`` (e.g. ``VerifiedQuote.measurements``) come from the same
        kind of TEE and hold every value of this one. An empty measurement matches nothing."""
        if tee != self.tee or not self.values:
            return False
        for name, expected in self.values.items():
            actual = measurements.get(name)
            if actual is None or not hmac.compare_digest(actual.lower(), expected):
                return False
        return True

    def to_json(self) -> dict[str, object]:
        return {"tee": self.tee.value, "values": dict(self.values)}
