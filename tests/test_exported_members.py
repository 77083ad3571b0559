"""Every package facade exports what its ``__all__`` says, nothing private (like httpx's test)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from types import ModuleType

import pytest

import veil
import veil.controlplane

#: Packages whose ``__init__`` is a facade with ``__all__`` (``veil.cli`` is the command line,
#: not a library surface; ``veil.controlplane`` is an empty placeholder, tested on its own).
FACADES = (
    "veil.attestation",
    "veil.attestation.sources",
    "veil.client",
    "veil.crypto",
    "veil.dev",
    "veil.enclave",
    "veil.enclave.backends",
    "veil.enclave.gramine",
    "veil.host",
    "veil.identity",
    "veil.owner",
    "veil.package",
    "veil.ratls",
    "veil.sealing",
)


def _submodule_names(module: ModuleType) -> set[str]:
    return {info.name for info in pkgutil.iter_modules(module.__path__)}


def _is_from_package(package: str, name: str, member: object) -> bool:
    """Defined in ``package``, or re-exported by one of its modules' ``__all__``."""
    owner = getattr(member, "__module__", None)
    if isinstance(owner, str) and (owner == package or owner.startswith(package + ".")):
        return True
    # Constants have no __module__, and a few names are re-exported (Measurement in
    # veil.enclave.backends): the module that provided the name is loaded by now. A package
    # without a lazy __getattr__ (veil.enclave.gramine) defines its constants itself.
    facade = sys.modules[package]
    providers = [m for n, m in list(sys.modules.items()) if n.startswith(package + ".")]
    if "__getattr__" not in vars(facade):
        providers.append(facade)
    return any(
        name in getattr(module, "__all__", ()) and getattr(module, name, None) is member
        for module in providers
    )


@pytest.mark.parametrize("package", FACADES)
def test_all_exports_exist_and_are_public(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert exported, f"{package} exports nothing"
    assert len(set(exported)) == len(exported), f"{package}.__all__ repeats a name"
    shadowed = set(exported) & _submodule_names(module)
    assert not shadowed, f"{package} exports names of its own modules: {shadowed}"
    for name in exported:
        assert not name.startswith("_"), f"{package} exports private {name}"
        member = getattr(module, name)
        assert _is_from_package(package, name, member), f"{package}.{name} is not its own"
        assert name in dir(module)


@pytest.mark.parametrize("package", FACADES)
def test_unknown_names_are_attribute_errors(package: str) -> None:
    with pytest.raises(AttributeError):
        _ = importlib.import_module(package).no_such_member


def test_the_top_level_package_exports_its_version_only() -> None:
    assert veil.__all__ == ["__version__"]
    assert isinstance(veil.__version__, str)
    with pytest.raises(AttributeError):
        _ = importlib.import_module("veil").no_such_member


def test_the_control_plane_placeholder_exports_nothing() -> None:
    assert veil.controlplane.__all__ == []
    assert "placeholder" in (veil.controlplane.__doc__ or "")


@pytest.mark.parametrize("package", ["veil", "veil.controlplane", *FACADES])
def test_importing_a_facade_loads_none_of_its_modules(package: str) -> None:
    """Only the package and its parents load: no module of it, nor of any other package."""
    code = (
        f"import json, sys, {package}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'veil')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    parts = package.split(".")
    parents = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    assert set(json.loads(out.stdout)) == parents
