from __future__ import annotations

from pathlib import Path

import pytest

from veil.dev._serve import detect_interface, load_application
from veil.dev.localtest import run_localtest
from veil.dev.scaffold import FRAMEWORKS, write_app
from veil.errors import ConfigError, OperationError


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_scaffold_then_localtest_passes(tmp_path: Path, framework: str) -> None:
    target = write_app("demo", framework=framework, parent=tmp_path)  # type: ignore[arg-type]
    # Proves the tests talk to the served instance, not to an in-process app.
    (target / "tests" / "test_served.py").write_text(
        "import os\n\nimport httpx\n\n\n"
        "def test_served(client):\n"
        "    url = os.environ['VEIL_APP_URL']\n"
        "    assert str(client.base_url).rstrip('/') == url\n"
        "    assert httpx.get(url + '/health', trust_env=False).json() == {'status': 'ok'}\n"
    )
    result = run_localtest(target, capture_output=True, pytest_args=["-p", "no:cacheprovider"])
    assert result.exit_status == 0, result.output
    assert result.output is not None
    assert "6 passed" in result.output
    assert result.url.startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_localtest_reports_failing_tests_against_the_served_app(tmp_path: Path) -> None:
    target = write_app("demo", framework="flask", parent=tmp_path)
    app = target / "app.py"
    app.write_text(app.read_text().replace('f"Hello, {name}!"', 'f"Bye, {name}!"'))
    result = run_localtest(target, capture_output=True, pytest_args=["-p", "no:cacheprovider"])
    assert result.exit_status == 1
    assert result.output is not None
    assert "2 failed, 3 passed" in result.output


def test_localtest_fails_clearly_when_the_app_cannot_start(tmp_path: Path) -> None:
    target = write_app("demo", framework="flask", parent=tmp_path)
    (target / "app.py").write_text("raise RuntimeError('boom at import')\n")
    with pytest.raises(OperationError, match="exited with status") as exc:
        run_localtest(target, startup_timeout=20)
    assert "boom at import" in str(exc.value)


def test_load_application_and_detect_interface(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mod_asgi.py").write_text(
        "async def app(scope, receive, send):\n    pass\n\n"
        "class Wrapper:\n    async def __call__(self, scope, receive, send):\n        pass\n\n"
        "inner = Wrapper()\nnot_callable = 3\n"
    )
    (tmp_path / "mod_wsgi.py").write_text("def app(environ, start_response):\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert detect_interface(load_application("mod_asgi:app"), "auto") == "asgi"
    assert detect_interface(load_application("mod_asgi:inner"), "auto") == "asgi"
    assert detect_interface(load_application("mod_wsgi:app"), "auto") == "wsgi"
    assert detect_interface(load_application("mod_wsgi:app"), "asgi") == "asgi"
    with pytest.raises(ConfigError, match="not callable"):
        load_application("mod_asgi:not_callable")
    with pytest.raises(ConfigError, match="no attribute"):
        load_application("mod_asgi:missing")
    with pytest.raises(ConfigError, match="cannot import"):
        load_application("no_such_module_xyz:app")
