"""Gramine manifest template for SGX enclave nodes, shipped as package data."""

from __future__ import annotations

from importlib import resources
from typing import Final

__all__ = ["MANIFEST_TEMPLATE_NAME", "manifest_template"]

MANIFEST_TEMPLATE_NAME: Final = "veil.manifest.template"


def manifest_template() -> str:
    """The text of ``veil.manifest.template`` (Jinja, rendered by ``gramine-manifest``)."""
    return resources.files(__name__).joinpath(MANIFEST_TEMPLATE_NAME).read_text("utf-8")
