"""Where the operator host keeps its simulation root, used only by the simulated backend."""

from __future__ import annotations

from pathlib import Path

from veil.enclave.backends.simulated import load_or_create_simulation_root
from veil.host.state import veil_home

__all__ = ["simulated_backend_options", "simulation_root_path", "simulation_root_public_key"]


def simulation_root_path() -> Path:
    """``$VEIL_HOME/simulation/root.pem``; the backend keeps its platform seed beside it."""
    return veil_home() / "simulation" / "root.pem"


def simulated_backend_options() -> dict[str, str]:
    """``backend_options`` for a simulated node, creating this host's root on first use."""
    root = simulation_root_path()
    load_or_create_simulation_root(root)
    return {"root_key": str(root)}


def simulation_root_public_key() -> bytes:
    """The raw public key of this host's simulation root (created if missing).

    Simulated evidence is signed by this key; a verifier on this machine may pin it as the
    trust anchor for ``allow_simulated_insecure`` checks. It proves nothing about secrecy.
    """
    return load_or_create_simulation_root(simulation_root_path()).public_key_bytes()
