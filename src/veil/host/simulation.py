"""The operator host's simulation root, used only by the simulated backend."""

from __future__ import annotations

from veil.enclave.backends.simulated import load_or_create_simulation_root
from veil.host.homes import OperatorHome

__all__ = [
    "existing_simulation_root",
    "simulated_backend_options",
    "simulation_root_public_key",
]


def simulated_backend_options(home: OperatorHome) -> dict[str, str]:
    """``backend_options`` for a simulated node, creating ``home``'s root on first use."""
    root = home.simulation_root
    load_or_create_simulation_root(root)
    return {"root_key": str(root)}


def simulation_root_public_key(home: OperatorHome) -> bytes:
    """The raw public key of ``home``'s simulation root (created if missing).

    Simulated evidence is signed by this key; a verifier on this machine may pin it as the
    trust anchor for ``allow_simulated_insecure`` checks. It proves nothing about secrecy.
    """
    return load_or_create_simulation_root(home.simulation_root).public_key_bytes()


def existing_simulation_root(home: OperatorHome) -> bytes | None:
    """The raw public key of ``home``'s simulation root if it exists, else ``None``.

    Unlike :func:`simulation_root_public_key` it never creates one: a verifier that finds no
    local root has no local anchor to pin, and creating one would pin a key nothing signed with.
    """
    if not home.simulation_root.is_file():
        return None
    return simulation_root_public_key(home)
