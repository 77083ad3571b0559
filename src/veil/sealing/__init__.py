"""veil.sealing: the owner's secrets sealed (HPKE) to one attested enclave instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.sealing.binding import instance_binding
    from veil.sealing.envelope import MAX_SEALED_PLAINTEXT_BYTES, seal, unseal
    from veil.sealing.keys import (
        read_sealing_private_key,
        read_sealing_public_key,
        write_sealing_key_pair,
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
    "write_sealing_key_pair",
    "write_sealing_private_key",
    "write_sealing_public_key",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "binding": ("instance_binding",),
        "envelope": ("MAX_SEALED_PLAINTEXT_BYTES", "seal", "unseal"),
        "keys": (
            "read_sealing_private_key",
            "read_sealing_public_key",
            "write_sealing_key_pair",
            "write_sealing_private_key",
            "write_sealing_public_key",
        ),
        "secrets": ("SecretsPayload",),
    },
)
