"""The operator's home: node directories, the simulation root and the collateral cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from veil._homes import state_directory
from veil.host.state import NodeNotFoundError, NodePaths, is_node_name, validate_node_name

__all__ = [
    "COLLATERAL_CACHE_DIRNAME",
    "OPERATOR_HOME_ENV",
    "OperatorHome",
]

#: Where the operator's state lives when set; tests and benchmarks point it at a scratch folder.
OPERATOR_HOME_ENV: Final = "VEIL_HOME"
#: Directory under the operator home where fetched collateral is kept until it is due.
COLLATERAL_CACHE_DIRNAME: Final = "collateral-cache"


@dataclass(frozen=True)
class OperatorHome:
    """The directory that holds what the operator runs; it never holds an owner's code key."""

    root: Path

    @classmethod
    def from_env(cls) -> OperatorHome:
        """``$VEIL_HOME``, else ``$XDG_STATE_HOME/veil``, else ``~/.local/state/veil``."""
        return cls(
            state_directory(
                override_env=OPERATOR_HOME_ENV,
                xdg_env="XDG_STATE_HOME",
                xdg_default=(".local", "state"),
            )
        )

    @property
    def nodes(self) -> Path:
        return self.root / "nodes"

    @property
    def simulation_root(self) -> Path:
        """The simulated backend's root key; its platform seed is kept beside it."""
        return self.root / "simulation" / "root.pem"

    @property
    def collateral_cache(self) -> Path:
        return self.root / COLLATERAL_CACHE_DIRNAME

    def node(self, name: str) -> NodePaths:
        """The directory node ``name`` has or would have (``ConfigError`` for a bad name)."""
        return NodePaths(self.nodes / validate_node_name(name))

    def existing_node(self, name: str) -> NodePaths:
        paths = self.node(name)
        if not paths.exists():
            raise NodeNotFoundError(f"no node named {name!r} (see `veil list`)")
        return paths

    def node_names(self) -> list[str]:
        """Names of the node directories, sorted (a directory need not hold a valid record)."""
        if not self.nodes.is_dir():
            return []
        return sorted(p.name for p in self.nodes.iterdir() if is_node_name(p.name) and p.is_dir())
