"""The CLI's errors and output: one line per error, flags not policy keys, no bytes reprs, no
tracebacks from bad input, one exit-code table, --json and help everywhere."""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.owner.conftest import NOTES, Packaged, make_instance, package_app
from veil.attestation.errors import PolicyError
from veil.cli._output import error_text
from veil.cli.main import build_parser, main
from veil.dev.scaffold import write_app
from veil.host.homes import OperatorHome
from veil.owner.home import OwnerHome

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = REPO_ROOT / "docs" / "cli.md"


@pytest.fixture
def notes(tmp_path: Path) -> Packaged:
    return package_app(NOTES, tmp_path / "notes")


def _veil(*argv: str, columns: int = 40) -> subprocess.CompletedProcess[str]:
    """The real command, output piped (not a terminal), in a narrow "terminal"."""
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "veil", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def _err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def _evidence(notes: Packaged, path: Path) -> Path:
    path.write_bytes(make_instance(notes.package).evidence_document().to_json())
    return path


def _tampered(evidence: Path, path: Path) -> Path:
    document = json.loads(evidence.read_bytes())
    quote = bytearray(base64.b64decode(document["quote"]))
    quote[100] ^= 0x01
    document["quote"] = base64.b64encode(bytes(quote)).decode()
    path.write_text(json.dumps(document))
    return path


# -- every error is one line ------------------------------------------------------------------


def test_a_long_error_is_one_line_at_any_width() -> None:
    digest = "sha256:" + "ab" * 32
    code = (
        "from veil.cli._output import error, warn; "
        f"error('a long message ' * 8 + '{digest}'); warn('a long warning ' * 8)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "40"},
        timeout=60,
        check=True,
    )
    lines = out.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("veil: error: a long message")
    assert lines[0].endswith(digest)
    assert lines[1].startswith("warning: a long warning")


def test_a_tampered_quote_is_one_short_line_without_bytes(notes: Packaged, tmp_path: Path) -> None:
    evidence = _tampered(_evidence(notes, tmp_path / "e.json"), tmp_path / "t.json")
    out = _veil(
        "verify",
        "--evidence",
        str(evidence),
        "--package",
        str(notes.package),
        "--allow-simulated-insecure",
    )
    assert out.returncode == 3, out.stderr
    errors = [line for line in out.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(errors) == 1, out.stderr
    assert errors[0].startswith("veil: error: ")
    assert "b'" not in out.stderr
    assert "\\x" not in out.stderr
    assert len(errors[0]) < 300
    # Every other line is a warning, and says so.
    assert all(line.startswith("warning: ") for line in out.stderr.splitlines()[:-1])


def test_a_policy_refusal_names_the_flag(
    notes: Packaged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = _evidence(notes, tmp_path / "e.json")
    assert main(["verify", "--evidence", str(evidence), "--package", str(notes.package)]) == 3
    [line] = _err_lines(capsys)
    assert "pass --allow-simulated-insecure" in line
    assert "allow_simulated_insecure" not in line
    assert "policy rule" not in line


def test_a_policy_refusal_without_a_flag_on_this_command_says_so() -> None:
    refusal = PolicyError(
        "debug", "sgx enclave runs in debug mode; refused unless allow_debug_insecure"
    )
    assert "pass --allow-debug-insecure" in error_text(refusal, {"--allow-debug-insecure"})
    text = error_text(refusal, {"--allow-simulated-insecure"})
    assert "this command has no option to accept it" in text
    assert "allow_debug_insecure" not in text
    other = error_text(PolicyError("mr_enclave", "expected 00, got 11"), ())
    assert other == "the attestation policy refused the evidence (mr_enclave): expected 00, got 11"


# -- no traceback from bad input --------------------------------------------------------------


@pytest.mark.parametrize("port", ["70000", "-5", "0", "http"])
@pytest.mark.parametrize(
    "command",
    [
        ["spawn", "app.veil", "--name", "n"],
        ["deploy", "app", "--allow-simulated-insecure"],
        ["localtest", "app"],
    ],
)
def test_a_bad_port_is_a_usage_error(
    command: list[str], port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*command, "--port", port])
    assert exc.value.code == 5
    [line] = _err_lines(capsys)
    assert line.startswith(f"veil: error: veil {command[0]}: argument --port: ")
    assert "Traceback" not in line
    assert not OperatorHome.from_env().node_names()


def test_localtest_names_a_missing_app_attribute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = write_app("demo", framework="flask", parent=tmp_path)
    config = app / "veil.toml"
    config.write_text(config.read_text().replace('"app:app"', '"app:nope"'))
    assert main(["localtest", str(app), "--timeout", "60"]) == 5
    [line] = _err_lines(capsys)
    assert "python_application 'app:nope' in veil.toml" in line
    assert "'nope'" in line
    assert "Traceback" not in line


def test_an_unknown_backend_creates_no_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "app.veil"
    package.write_bytes(b"never read")
    assert main(["spawn", str(package), "--name", "typo", "--backend", "sgx"]) == 5
    [line] = _err_lines(capsys)
    assert "unknown backend 'sgx' (--backend)" in line
    assert "gramine-sgx" in line
    source = write_app("typo", framework="flask", parent=tmp_path)
    assert main(["deploy", str(source), "--backend", "tdx"]) == 5
    assert "unknown backend 'tdx'" in capsys.readouterr().err
    assert not OperatorHome.from_env().node_names()
    assert not OwnerHome.from_env().deployment("typo").exists()
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"nodes": []}


# -- exit codes -------------------------------------------------------------------------------


def _documented_exit_codes() -> dict[int, str]:
    text = CLI_DOC.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \|", section, flags=re.MULTILINE)
    return {int(code): meaning for code, meaning in rows}


def _fail_with(code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run the documented failure of exit code ``code``; return what veil exited with."""
    if code == 0:
        return main(["list"])
    if code == 1:
        from veil.cli.dev import _localtest
        from veil.dev.localtest import LocalTestResult

        def failing(*args: object, **kwargs: object) -> LocalTestResult:
            return LocalTestResult(exit_status=5, url="http://127.0.0.1:1", output=None)

        monkeypatch.setattr(_localtest, "run_localtest", failing)
        return main(["localtest", str(tmp_path)])
    if code == 2:
        bogus = tmp_path / "bogus.veil"
        bogus.write_bytes(b"not a package")
        return main(["measure", str(bogus)])
    if code == 3:
        notes = _packaged(tmp_path)
        evidence = _evidence(notes, tmp_path / "e.json")
        return main(["verify", "--evidence", str(evidence), "--package", str(notes.package)])
    if code == 4:
        return main(["verify", "https://127.0.0.1:1", "--fingerprint", "sha256:" + "00" * 32])
    if code == 5:
        with pytest.raises(SystemExit) as exc:
            main(["spawn", "x.veil", "--name", "n", "--port", "70000"])
        assert main(["status", "no-such-node"]) == 5  # a ConfigError: the same code
        return int(str(exc.value.code))
    if code == 6:
        return main(["keygen", "-o", str(tmp_path / "missing" / "dir" / "owner.key")])
    if code == 130:
        from veil.cli.operator import _inspect

        def interrupted(args: argparse.Namespace) -> int:
            raise KeyboardInterrupt

        monkeypatch.setattr(_inspect, "list_", interrupted)
        return main(["list"])
    raise AssertionError(f"exit code {code} is documented but has no test")


def _packaged(tmp_path: Path) -> Packaged:
    return package_app(NOTES, tmp_path / "notes")


def test_every_documented_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    documented = _documented_exit_codes()
    assert set(documented) == {0, 1, 2, 3, 4, 5, 6, 130}
    for code in documented:
        assert _fail_with(code, tmp_path, monkeypatch) == code, documented[code]


def test_the_error_classes_match_the_table() -> None:
    from veil import errors

    documented = _documented_exit_codes()
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert name in documented[cls.exit_code] or any(
            base.__name__ in documented[cls.exit_code] for base in cls.__mro__[1:]
        ), name


# -- output details ---------------------------------------------------------------------------


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                assert helps.get(name), f"veil {' '.join((*path, name))} has no help"
                found += _leaves(sub, (*path, name))
    return found or [(path, parser)]


def test_every_command_and_option_has_help_and_json() -> None:
    leaves = _leaves(build_parser())
    assert len(leaves) > 15
    for path, parser in leaves:
        where = "veil " + " ".join(path)
        for action in parser._actions:
            assert action.help, f"{where} {action.option_strings or action.dest} has no help"
        options = {s for a in parser._actions for s in a.option_strings}
        assert "--json" in options, f"{where} has no --json"


def test_localtest_and_its_server_agree_on_the_config_error_status() -> None:
    from veil.dev import _serve, localtest

    assert localtest._SERVE_CONFIG_ERROR_STATUS == _serve.CONFIG_ERROR_STATUS
