"""The two examples deployed in each TLS scenario, called with curl, httpx and ``veil verify``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e._certs import self_signed
from tests.e2e.conftest import BuiltApp, OwnerCertApp, local_simulation_root, nodes
from veil.cli.main import main
from veil.client.expect import ExpectedApp
from veil.client.http import AttestedClient, UntrustedChannelError
from veil.owner.deploy import DeployOptions, DeployResult, deploy

APPS = ("hello-fastapi", "hello-flask")
SCENARIOS = ("zero-trust", "owner-certificate", "operator")


@dataclass(frozen=True)
class Deployed:
    result: DeployResult
    app: BuiltApp
    scenario: str
    #: What a plain TLS client (curl) should trust for this scenario.
    cacert: Path
    #: The host name curl should use (it must be in the served certificate).
    host: str

    def url(self, path: str) -> str:
        port = self.result.url.rsplit(":", 1)[1]
        return f"https://{self.host}:{port}{path}"


@pytest.fixture(scope="module", params=[(a, s) for s in SCENARIOS for a in APPS], ids="-".join)
def deployed(
    request: pytest.FixtureRequest,
    e2e_home: Path,
    built_apps: dict[str, BuiltApp],
    owner_cert_apps: dict[str, OwnerCertApp],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployed]:
    app_name, scenario = request.param
    name = f"{app_name.removeprefix('hello-')}-{scenario}"
    if scenario == "owner-certificate":
        owner = owner_cert_apps[app_name]
        app, cacert, host = owner.app, owner.certs.ca, "localhost"
        tls_key, operator_tls = owner.certs.private_key, None
    elif scenario == "operator":
        # The package opts in with tls.scenario = "operator" (a zero-trust one refuses).
        operator_apps: dict[str, BuiltApp] = request.getfixturevalue("operator_apps")
        app, tls_key, host = operator_apps[app_name], None, "127.0.0.1"
        operator = self_signed(tmp_path_factory.mktemp("operator"), ["localhost", "127.0.0.1"])
        operator_tls = (operator.certificate, operator.private_key)
    else:
        app, tls_key, host = built_apps[app_name], None, "127.0.0.1"
        operator_tls = None
    result = deploy(
        app.source,
        DeployOptions(
            name=name,
            allow_simulated_insecure=True,
            package=app.package,
            code_key=app.code_key,
            tls_key=tls_key,
            operator_tls=operator_tls,
        ),
    )
    if scenario == "zero-trust":
        cacert = result.certificate
    elif scenario == "operator":
        assert operator_tls is not None
        cacert = operator_tls[0]
    yield Deployed(result, app, scenario, cacert, host)
    nodes().stop(name, grace=3.0)


def test_deploy_reports_the_scenario(deployed: Deployed) -> None:
    assert deployed.result.scenario == deployed.scenario
    assert deployed.result.end_to_end == (deployed.scenario != "operator")
    assert deployed.result.fingerprint == deployed.app.fingerprint
    assert deployed.result.simulated


def test_curl_with_the_trusted_certificate(deployed: Deployed) -> None:
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "--cacert",
            str(deployed.cacert),
            deployed.url("/hello?name=veil"),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert json.loads(out.stdout) == {"message": "Hello, veil!"}


def test_curl_without_the_certificate_is_refused(deployed: Deployed) -> None:
    out = subprocess.run(["curl", "-sS", deployed.url("/health")], capture_output=True, timeout=30)
    assert out.returncode == 60  # CURLE_PEER_FAILED_VERIFICATION: nothing trusts it by default


def _client(deployed: Deployed, **kwargs: object) -> AttestedClient:
    return AttestedClient(
        deployed.result.url,
        expected=ExpectedApp.from_package(deployed.app.package),
        allow_simulated_insecure=True,
        simulation_root_public_key=local_simulation_root(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_attested_httpx_client(deployed: Deployed) -> None:
    if deployed.scenario == "operator":
        with (
            _client(deployed) as client,
            pytest.raises(UntrustedChannelError, match="not end to end"),
        ):
            client.get("/health")
        client = _client(deployed, allow_untrusted_channel_insecure=True)
    else:
        client = _client(deployed)
    with client:
        assert client.get("/hello", params={"name": "httpx"}).json() == {"message": "Hello, httpx!"}
        assert client.post("/sum", json=[1, 2, 3.5]).json() == {"sum": 6.5}
        assert client.verification is not None
        assert client.verification.scenario == deployed.scenario
        assert client.verification.measurement_checked


def _operator_flag(deployed: Deployed) -> list[str]:
    """What a user must add to accept the operator TLS scenario."""
    return ["--allow-operator-tls"] if deployed.scenario == "operator" else []


def test_veil_verify_url(
    deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "cert.pem"
    code = main(
        [
            "verify",
            deployed.result.url,
            "--fingerprint",
            deployed.app.fingerprint,
            "--allow-simulated-insecure",
            "-o",
            str(cert),
            "--json",
            *_operator_flag(deployed),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scenario"] == deployed.scenario
    assert report["end_to_end"] == (deployed.scenario != "operator")
    assert report["code_checked"] is True
    # The fingerprint alone is enough to recompute the measurement (with the signed
    # security-config digest claim), and the quote carried it.
    assert report["measurement_checked"] is True
    assert not any("only the fingerprint" in note for note in report["notes"])
    assert report["fresh"] is True
    assert report["fingerprint"] == deployed.app.fingerprint
    # The saved certificate is what the server presents: curl can pin it.
    out = subprocess.run(
        ["curl", "-sS", "--fail", "--cacert", str(cert), f"{deployed.result.url}/health"],
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr


def test_veil_verify_url_refuses_a_wrong_fingerprint(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "sha256:" + "0" * 64
    argv = ["verify", deployed.result.url, "--fingerprint", wrong, "--allow-simulated-insecure"]
    assert main([*argv, "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is False
    assert wrong in report["error"]


def test_veil_verify_url_refuses_simulated_evidence_by_default(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", deployed.result.url, "--fingerprint", deployed.app.fingerprint]) == 3
    assert "simulated" in capsys.readouterr().err


def test_veil_verify_url_without_expectation_says_the_code_was_not_checked(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["verify", deployed.result.url, "--allow-simulated-insecure", "--json"]
    assert main([*argv, *_operator_flag(deployed)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["code_checked"] is False
    assert any("was not checked" in note for note in report["notes"])
    if deployed.scenario == "operator":
        assert any("can read and change the traffic" in note for note in report["notes"])
