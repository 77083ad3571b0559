"""Building the ``veil`` parser loads no command's heavy dependencies; handlers load lazily."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from veil.cli import dev, owner
from veil.cli._lazy import LazyHandler
from veil.cli.main import build_parser, main
from veil.cli.owner._measure import _TEES
from veil.crypto.hpke import DEFAULT_SEALING_SUITE, SealingSuite
from veil.dev.localtest import APP_URL_ENV, DEFAULT_STARTUP_TIMEOUT
from veil.dev.scaffold import FRAMEWORKS

#: Libraries (and veil modules) only a command's handler may need.
HEAVY = (
    "cryptography",
    "httpx",
    "pydantic",
    "rich",
    "pathspec",
    "uvicorn",
    "starlette",
    "veil.attestation.verifier",
    "veil.package.source",
    "veil.package.vendor",
    "veil.owner.deploy",
    "veil.enclave.spec",
)


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_building_the_parser_imports_no_heavy_library() -> None:
    loaded = _loaded_after("from veil.cli.main import build_parser; build_parser()")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY}


def test_veil_version_runs_without_heavy_imports() -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "veil", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.startswith("veil ")
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in HEAVY or m in HEAVY}


def test_the_enclave_node_loads_no_verifier_or_packager() -> None:
    """The node parses its own quotes and decrypts packages; it never verifies or builds one.

    Nor does it load the owner's, the client's or the CLI's code (or their rich output): the
    node's imports are on every deploy's critical path, before it serves its bootstrap API.
    """
    loaded = _loaded_after("import veil.enclave.node")
    for module in ("veil.attestation.verifier", "veil.package.source", "pathspec", "httpx"):
        assert module not in loaded
    for package in ("veil.client", "veil.owner", "veil.cli", "rich"):
        assert not {m for m in loaded if m == package or m.startswith(package + ".")}


def test_parser_constants_match_their_sources() -> None:
    assert tuple(s.value for s in SealingSuite) == owner.SEALING_SUITE_NAMES
    assert DEFAULT_SEALING_SUITE.value == owner.DEFAULT_SEALING_SUITE_NAME
    assert dev.FRAMEWORK_NAMES == FRAMEWORKS
    assert dev.APP_URL_ENV == APP_URL_ENV
    assert dev.DEFAULT_STARTUP_TIMEOUT == DEFAULT_STARTUP_TIMEOUT
    assert tuple(sorted(_TEES)) == owner.TEE_NAMES


def _handlers() -> list[tuple[str, object]]:
    parser = build_parser()
    found: list[tuple[str, object]] = []
    pending = [("", parser)]
    while pending:
        prefix, current = pending.pop()
        for action in current._actions:
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, sub in choices.items():
                    func = sub.get_default("func")
                    if func is not None:
                        found.append((f"{prefix}{name}", func))
                    pending.append((f"{prefix}{name} ", sub))
    return found


@pytest.mark.parametrize("command", [name for name, _ in _handlers()])
def test_every_lazy_handler_resolves(command: str) -> None:
    """Each command's handler module and function exist (found when the command runs)."""
    func = dict(_handlers())[command]
    assert isinstance(func, LazyHandler)
    assert callable(func.resolve())


def test_every_handler_is_lazy_and_named_after_its_role() -> None:
    """One loader for every command; each handler module lives in its role's package."""
    for command, func in _handlers():
        assert isinstance(func, LazyHandler), command


def test_errors_still_render_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "/nonexistent.veil"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("veil: error:")
