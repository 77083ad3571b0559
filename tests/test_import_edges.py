"""The zones of ``src/veil`` import each other only in DESIGN.md's direction.

``cli → host, owner, client → enclave, sealing, ratls → identity → attestation, package →
crypto``: a pure core never reaches for the enclave, the host or the CLI, and the enclave never
imports the host side. A new edge is a design decision: add it here with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

import pytest

SRC: Final = Path(__file__).resolve().parents[1] / "src" / "veil"
#: Modules at the package's top that every zone may use.
SHARED: Final = frozenset({"errors", "_homes", "_io", "_json", "_layout", "veil"})
#: zone → the zones it may import (besides itself and SHARED).
ALLOWED: Final[dict[str, frozenset[str]]] = {
    "crypto": frozenset(),
    "attestation": frozenset({"crypto"}),
    "package": frozenset({"crypto"}),
    "sealing": frozenset({"crypto"}),
    "identity": frozenset({"attestation", "crypto"}),
    "ratls": frozenset({"attestation", "crypto"}),
    "enclave": frozenset({"attestation", "crypto", "identity", "package", "ratls", "sealing"}),
    # The operator side reads node specs and runtime-dir rules from the enclave package and
    # creates the simulated backend's root; it never sees what runs inside.
    "host": frozenset({"attestation", "enclave", "identity", "ratls"}),
    "client": frozenset({"attestation", "crypto", "identity", "package", "ratls"}),
    # `veil deploy` verifies and seals (client side) and spawns through the host.
    "owner": frozenset(
        {"attestation", "client", "crypto", "host", "identity", "package", "ratls", "sealing"}
    ),
    # The cloud flavour sits beside the owner's tools: it spawns through host-side managers and
    # checks evidence, but never holds a code key or plaintext secret (no sealing, no enclave).
    "controlplane": frozenset({"attestation", "client", "host", "identity", "package", "ratls"}),
    "dev": frozenset({"package"}),
    "app": frozenset({"enclave"}),
}


def _zone(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0].removesuffix(".py")


def _imported_zones(path: Path) -> set[str]:
    zones = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "veil":
                zones.add(parts[1] if len(parts) > 1 else "veil")
    return zones


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if _zone(p) in ALLOWED)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_design(path: Path) -> None:
    zone = _zone(path)
    forbidden = _imported_zones(path) - ALLOWED[zone] - SHARED - {zone}
    assert not forbidden, f"{zone} may not import {sorted(forbidden)}"


def test_every_zone_is_listed() -> None:
    zones = {_zone(p) for p in SRC.rglob("*.py")} - {"__init__", "__main__", "cli"} - SHARED
    assert zones <= set(ALLOWED), f"add {sorted(zones - set(ALLOWED))} to ALLOWED"
