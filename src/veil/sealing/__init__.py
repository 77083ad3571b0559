"""veil.sealing: the owner's secrets sealed (HPKE) to one attested enclave instance."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from veil.sealing.binding import instance_binding
    from veil.sealing.envelope import MAX_SEALED_PLAINTEXT_BYTES, seal, unseal
    from veil.sealing.keys import (
        read_sealing_private_key,
        read_sealing_public_key,
        write_sealing_private_key,
        write_sealing_public_key,
    )
    from veil.sealing.secrets import SecretsPayload

__all__ = [
    "MAX_SEALED_PLAINTEXT_BYTES",
    "SecretsPayload",
    "instance_binding",
    "read_sealing_private_key",
    "read_sealing_public_key",
    "seal",
    "unseal",
    "write_sealing_private_key",
    "write_sealing_public_key",
]

# Loaded on first use: importing the package (e.g. for `veil --version`) stays cheap.
_EXPORTS: Final = {
    "MAX_SEALED_PLAINTEXT_BYTES": "veil.sealing.envelope",
    "SecretsPayload": "veil.sealing.secrets",
    "instance_binding": "veil.sealing.binding",
    "read_sealing_private_key": "veil.sealing.keys",
    "read_sealing_public_key": "veil.sealing.keys",
    "seal": "veil.sealing.envelope",
    "unseal": "veil.sealing.envelope",
    "write_sealing_private_key": "veil.sealing.keys",
    "write_sealing_public_key": "veil.sealing.keys",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
