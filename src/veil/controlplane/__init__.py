"""veil.controlplane: a placeholder for the control plane, not written yet; it exports nothing."""

from __future__ import annotations

__all__: list[str] = []
