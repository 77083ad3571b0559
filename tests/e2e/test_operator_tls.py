"""The operator swaps its own TLS key in: refused by the node, the owner and ``veil verify``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e._certs import CertFiles, self_signed
from tests.e2e._proxy import tls_terminating_proxy
from tests.e2e.conftest import BuiltApp, nodes
from veil.cli.main import main
from veil.client.verify import verify_server
from veil.errors import BindingError
from veil.host.bootstrap import BootstrapClient
from veil.host.interface import NodeExitedError, SpawnRequest
from veil.owner.deploy import DeployOptions, DeployResult, deploy


@pytest.fixture(scope="module")
def operator_certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return self_signed(tmp_path_factory.mktemp("operator-tls"), ["localhost", "127.0.0.1"])


@pytest.fixture(scope="module")
def proxy_certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return self_signed(tmp_path_factory.mktemp("proxy-tls"), ["localhost", "127.0.0.1"])


def _deploy(app: BuiltApp, name: str, operator_tls: CertFiles | None) -> DeployResult:
    return deploy(
        app.source,
        DeployOptions(
            name=name,
            allow_simulated_insecure=True,
            package=app.package,
            code_key=app.code_key,
            operator_tls=(operator_tls.certificate, operator_tls.private_key)
            if operator_tls
            else None,
        ),
    )


@pytest.fixture(scope="module")
def zero_trust(e2e_home: Path, built_apps: dict[str, BuiltApp]) -> Iterator[DeployResult]:
    result = _deploy(built_apps["hello-fastapi"], "zt-target", None)
    yield result
    nodes().stop(result.name, grace=3.0)


@pytest.fixture(scope="module")
def operator_served(
    e2e_home: Path, operator_apps: dict[str, BuiltApp], operator_certs: CertFiles
) -> Iterator[DeployResult]:
    result = _deploy(operator_apps["hello-fastapi"], "op-target", operator_certs)
    yield result
    nodes().stop(result.name, grace=3.0)


def _one_line(text: str) -> str:
    """The console wraps long lines: compare messages with their white space collapsed."""
    return " ".join(text.split())


def _verify(url: str, *extra: str) -> int:
    return main(["verify", url, "--allow-simulated-insecure", *extra])


def test_a_zero_trust_package_does_not_start_with_operator_tls(
    built_apps: dict[str, BuiltApp], operator_certs: CertFiles
) -> None:
    """`veil spawn --untrusted-ssl-*` on a package that does not allow it: the node refuses."""
    nodes().spawn(
        SpawnRequest(
            name="downgrade",
            package=built_apps["hello-fastapi"].package,
            backend="simulated",
            operator_tls=(operator_certs.certificate, operator_certs.private_key),
        )
    )
    try:
        with pytest.raises(NodeExitedError, match=r"tls\.scenario"):
            nodes().wait("downgrade", ("waiting",), timeout=60)
    finally:
        nodes().stop("downgrade", grace=3.0)


def test_an_operator_package_does_not_start_without_operator_tls(
    operator_apps: dict[str, BuiltApp],
) -> None:
    package = operator_apps["hello-flask"].package
    nodes().spawn(SpawnRequest(name="no-op-tls", package=package, backend="simulated"))
    try:
        with pytest.raises(NodeExitedError, match="--untrusted-ssl-cert"):
            nodes().wait("no-op-tls", ("waiting",), timeout=60)
    finally:
        nodes().stop("no-op-tls", grace=3.0)


def test_evidence_claims_the_effective_scenario(operator_served: DeployResult) -> None:
    document = json.loads(BootstrapClient(operator_served.url).evidence())
    assert document["deployment"]["tls_scenario"] == "operator"
    assert document["deployment"]["tls_pin"].startswith("sha256:")


def test_veil_verify_refuses_operator_tls_without_the_flag(
    operator_served: DeployResult,
    operator_apps: dict[str, BuiltApp],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cert = tmp_path / "cert.pem"
    package = str(operator_apps["hello-fastapi"].package)
    assert _verify(operator_served.url, "--package", package, "-o", str(cert)) == 3
    assert "--allow-operator-tls" in _one_line(capsys.readouterr().err)
    assert not cert.exists()
    with pytest.raises(BindingError, match="allow_operator_tls"):
        verify_server(operator_served.url, allow_simulated_insecure=True)
    argv = ["--package", package, "--allow-operator-tls", "-o", str(cert), "--json"]
    assert _verify(operator_served.url, *argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scenario"] == "operator"
    assert report["end_to_end"] is False
    assert cert.read_bytes() == operator_served.certificate.read_bytes()


def test_veil_verify_refuses_a_tls_terminating_proxy(
    zero_trust: DeployResult,
    built_apps: dict[str, BuiltApp],
    proxy_certs: CertFiles,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cert = tmp_path / "cert.pem"
    package = str(built_apps["hello-fastapi"].package)
    with tls_terminating_proxy(zero_trust.url, proxy_certs) as proxied:
        assert _verify(proxied, "--package", package, "-o", str(cert)) == 3
        assert "not the one the enclave serves" in _one_line(capsys.readouterr().err)
        assert not cert.exists()
        code = _verify(proxied, "--allow-operator-tls")
        assert code == 3, capsys.readouterr().err
        assert _verify(zero_trust.url, "--package", package) == 0  # the node itself is fine


def test_a_proxy_in_front_of_operator_tls_is_refused_even_when_allowed(
    operator_served: DeployResult, proxy_certs: CertFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    with tls_terminating_proxy(operator_served.url, proxy_certs) as proxied:
        assert _verify(proxied, "--allow-operator-tls", "--json") == 3
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is False
    assert "not the one the enclave serves" in report["error"]


def test_owner_verify_and_seal_show_the_scenario(
    operator_apps: dict[str, BuiltApp],
    operator_certs: CertFiles,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = operator_apps["hello-flask"]
    nodes().spawn(
        SpawnRequest(
            name="op-owner",
            package=app.package,
            backend="simulated",
            operator_tls=(operator_certs.certificate, operator_certs.private_key),
        )
    )
    try:
        nodes().wait("op-owner", ("waiting",), timeout=60)
        evidence = tmp_path / "evidence.json"
        evidence.write_bytes(BootstrapClient(nodes().status("op-owner").url).evidence())
        owner = ["--evidence", str(evidence), "--package", str(app.package)]
        assert main(["verify", *owner, "--allow-simulated-insecure", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["tls_scenario"] == "operator"
        assert main(["verify", *owner, "--allow-simulated-insecure"]) == 0
        assert "operator" in capsys.readouterr().out
        secrets = tmp_path / "secrets.json"
        secrets.write_text("{}")
        sealed = tmp_path / "sealed.bin"
        seal = ["seal", str(secrets), *owner, "--key", str(app.code_key), "-o", str(sealed)]
        assert main([*seal, "--allow-simulated-insecure", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["tls_scenario"] == "operator"
    finally:
        nodes().stop("op-owner", grace=3.0)
