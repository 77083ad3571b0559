"""The owner's home: what ``veil deploy`` keeps per deployment, code keys among it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from veil._homes import state_directory
from veil.host.state import validate_node_name

__all__ = ["OWNER_HOME_ENV", "OwnerHome"]

#: Where the owner's state lives when set. Apart from the operator's ``$VEIL_HOME`` so that
#: code keys never sit in a directory the operator tooling (or a control plane) manages.
OWNER_HOME_ENV: Final = "VEIL_OWNER_HOME"


@dataclass(frozen=True)
class OwnerHome:
    """The directory that holds an owner's secrets on this machine (mode 0700 folders)."""

    root: Path

    @classmethod
    def from_env(cls) -> OwnerHome:
        """``$VEIL_OWNER_HOME``, else ``$XDG_DATA_HOME/veil``, else ``~/.local/share/veil``."""
        return cls(
            state_directory(
                override_env=OWNER_HOME_ENV,
                xdg_env="XDG_DATA_HOME",
                xdg_default=(".local", "share"),
            )
        )

    @property
    def deployments(self) -> Path:
        return self.root / "deployments"

    def deployment(self, name: str) -> Path:
        """What ``veil deploy`` keeps for the app deployed as node ``name``: package, code key,
        evidence, certificate. Removed when the deploy fails and with the node
        (``veil stop --remove``)."""
        return self.deployments / validate_node_name(name)

    def remove_deployment(self, name: str) -> None:
        # It holds the package's code key: nothing of it may stay behind.
        shutil.rmtree(self.deployment(name), ignore_errors=True)
