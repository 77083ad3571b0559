"""Every package facade exports what its ``__all__`` says, nothing private (like httpx's test)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

#: Packages whose ``__init__`` is a facade with ``__all__``.
FACADES = ("veil.crypto", "veil.identity", "veil.sealing")


@pytest.mark.parametrize("package", FACADES)
def test_all_exports_exist_and_are_public(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert exported, f"{package} exports nothing"
    assert len(set(exported)) == len(exported), f"{package}.__all__ repeats a name"
    for name in exported:
        assert not name.startswith("_"), f"{package} exports private {name}"
        member = getattr(module, name)
        owner = getattr(member, "__module__", None)
        if owner is not None:
            assert owner.startswith(package + "."), f"{package}.{name} comes from {owner}"
        assert name in dir(module)


@pytest.mark.parametrize("package", FACADES)
def test_unknown_names_are_attribute_errors(package: str) -> None:
    with pytest.raises(AttributeError):
        _ = importlib.import_module(package).no_such_member


@pytest.mark.parametrize("package", ["veil.crypto", "veil.sealing"])
def test_importing_a_facade_loads_none_of_its_modules(package: str) -> None:
    code = f"import sys, {package}\nprint([m for m in sys.modules if m.startswith('{package}.')])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
