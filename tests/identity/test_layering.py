"""The verifier side (owner, user, identity) reaches the expected identity without the enclave."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    ["veil.identity", "veil.client.expect", "veil.client.verify", "veil.owner.verify"],
)
def test_verifier_side_does_not_import_the_enclave(module: str) -> None:
    code = f"import {module}, json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = [name for name in json.loads(out.stdout) if name.startswith("veil.enclave")]
    assert loaded == [], f"{module} pulls in {loaded}"
