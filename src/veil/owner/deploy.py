"""``veil deploy``: package, spawn, verify, seal, provision and check an app in one go."""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from veil.attestation.evidence import EvidenceDocument
from veil.attestation.result import Tee
from veil.client._tls import (
    fetch_peer_certificate,
    parse_https_url,
    pinned_ssl_context,
    spki_der,
)
from veil.client.expect import ExpectedApp
from veil.client.verify import NONCE_BYTES, verify_server
from veil.crypto.keys import CodeKey, read_code_key, write_code_key
from veil.errors import BindingError, ConfigError, ServiceError
from veil.host.bootstrap import BootstrapClient
from veil.host.simulation import simulation_root_public_key
from veil.host.state import node_paths, validate_node_name, veil_home
from veil.host.supervisor import (
    DEFAULT_SPAWN_TIMEOUT,
    NameInUseError,
    node_info,
    spawn_node,
    stop_node,
    wait_for_state,
)
from veil.owner.seal import OwnerTls, build_payload, seal_for_enclave
from veil.owner.verify import OwnerVerifiedEnclave, verify_owner_evidence
from veil.package.config import CONFIG_FILE_NAME, AppConfig
from veil.package.encrypted import PackageHeader, read_package_header, write_package
from veil.package.source import prepared_source

__all__ = [
    "DEPLOY_STEPS",
    "SIMULATED_WARNING",
    "DeployOptions",
    "DeployResult",
    "deploy",
    "deployment_dir",
]

_log = logging.getLogger(__name__)

#: The steps ``deploy`` reports, in order.
DEPLOY_STEPS: Final = (
    "package",
    "spawn",
    "evidence",
    "verify",
    "seal",
    "provision",
    "healthcheck",
)
#: Said whenever a deployment uses the simulated backend.
SIMULATED_WARNING: Final = (
    "SIMULATED backend: there is no TEE. The code, its secrets and all user data are readable "
    "by anyone with access to this machine; the evidence is signed by a local key and proves "
    "nothing. Use it only to try veil with test data."
)
_PROVISION_TIMEOUT: Final = 120.0
_HEALTH_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class DeployOptions:
    name: str | None = None
    port: int | None = None
    host: str = "127.0.0.1"
    backend: str = "simulated"
    san: Sequence[str] = ()
    allow_simulated_insecure: bool = False
    app_secrets: Mapping[str, str] = field(default_factory=dict)
    #: Owner-certificate scenario: the private key of the certificate packaged with the app.
    tls_key: Path | None = None
    #: Operator TLS scenario (untrusted): the operator's certificate and key.
    operator_tls: tuple[Path, Path] | None = None
    wheels_from: Sequence[Path] = ()
    no_index: bool = False
    timeout: float = DEFAULT_SPAWN_TIMEOUT
    #: Reuse an existing package and its code key instead of packaging ``source``.
    package: Path | None = None
    code_key: Path | None = None


@dataclass(frozen=True)
class DeployResult:
    url: str
    name: str
    fingerprint: str
    #: The verified certificate users should trust (``curl --cacert``).
    certificate: Path
    scenario: str
    node_dir: Path
    deployment_dir: Path
    end_to_end: bool
    simulated: bool

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "certificate": str(self.certificate),
            "scenario": self.scenario,
            "end_to_end": self.end_to_end,
            "simulated": self.simulated,
            "node_dir": str(self.node_dir),
            "deployment_dir": str(self.deployment_dir),
        }


def deployment_dir(name: str) -> Path:
    """The owner's files for one deployment: package, code key, evidence, certificate."""
    return veil_home() / "deployments" / validate_node_name(name)


def _noop(step: str) -> None:
    return None


def _package(source: Path | None, directory: Path, options: DeployOptions) -> tuple[Path, CodeKey]:
    package = directory / "app.veil"
    key_file = directory / "code.key"
    if options.package is not None:
        if options.code_key is None:
            raise ConfigError("a prebuilt package needs its code key")
        return options.package.resolve(), read_code_key(options.code_key)
    if source is None:
        raise ConfigError("give an app directory or a package")
    key = CodeKey.generate()
    with prepared_source(source, find_links=options.wheels_from, no_index=options.no_index) as app:
        write_package(app, package, key=key, overwrite=True)
    write_code_key(key_file, key, overwrite=True)
    return package, key


def _owner_tls(
    source: Path | None, enclave: OwnerVerifiedEnclave, options: DeployOptions
) -> OwnerTls | None:
    security = enclave.header.security_config
    if security.tls_scenario != "owner-certificate":
        if options.tls_key is not None:
            raise ConfigError(
                f"--tls-key is only for the owner-certificate scenario, not {security.tls_scenario}"
            )
        return None
    if options.tls_key is None or security.tls_certificate is None or source is None:
        raise ConfigError(
            "the owner-certificate scenario needs the app directory and the certificate's "
            "private key (--tls-key)"
        )
    return OwnerTls.from_files(source / security.tls_certificate, options.tls_key)


def _app_name(source: Path | None, options: DeployOptions) -> str:
    if options.name is not None:
        return validate_node_name(options.name)
    if options.package is not None:
        return read_package_header(options.package).app_name
    if source is None:
        raise ConfigError("give an app directory or a package")
    return AppConfig.from_toml(source / CONFIG_FILE_NAME).name


def _serving_channel(
    url: str, enclave: OwnerVerifiedEnclave, header: PackageHeader, options: DeployOptions
) -> tuple[str, bool, bytes]:
    """(scenario, end to end, served certificate DER) of the app now serving at ``url``.

    When the served key is the RA-TLS key just verified (zero trust), that verification
    stands. Otherwise (owner certificate, operator TLS) the server is verified afresh, the way
    a user would, to learn what the new certificate is bound to.
    """
    host, port = parse_https_url(url)
    served = fetch_peer_certificate(host, port)
    if hmac.compare_digest(spki_der(served), enclave.tls_public_key_der):
        return "zero-trust", True, served
    verification = verify_server(
        url,
        expected=ExpectedApp(
            fingerprint=header.fingerprint, security_config_json=header.security_config_json
        ),
        allow_simulated_insecure=options.allow_simulated_insecure,
        simulation_root_public_key=_simulation_root(options),
    )
    return verification.scenario, verification.end_to_end, verification.certificate_der


def _healthcheck(url: str, certificate_der: bytes, path: str) -> None:
    """GET the app's healthcheck over TLS pinned to ``certificate_der``."""
    host, _ = parse_https_url(url)
    context = pinned_ssl_context(certificate_der, host=host)
    try:
        with httpx.Client(verify=context, timeout=_HEALTH_TIMEOUT) as client:
            response = client.get(f"{url}{path}")
    except httpx.HTTPError as e:
        raise ServiceError(f"healthcheck {path} failed: {e}") from e
    if response.status_code >= 400:
        raise ServiceError(f"healthcheck {path} answered {response.status_code}")


def deploy(
    source: Path | None,
    options: DeployOptions,
    *,
    on_step: Callable[[str], None] = _noop,
) -> DeployResult:
    """Run the whole owner + operator flow on this machine and return where the app serves.

    The enclave is verified like a remote one: the owner trusts nothing the node or the
    operator's files say until the evidence verified against the package just built. On any
    failure after the node started, the node is stopped (its directory and log are kept).
    """
    if options.backend == "simulated" and not options.allow_simulated_insecure:
        raise ConfigError(
            "the simulated backend has no TEE and every verifier refuses its evidence; pass "
            "--allow-simulated-insecure to deploy on it anyway (test data only)"
        )
    name = _app_name(source, options)
    if node_paths(name).root.exists():  # before packaging, which takes a while
        raise NameInUseError(
            f"a node named {name!r} already exists; pass --name, or `veil stop {name} --remove`"
        )
    directory = deployment_dir(name)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    on_step("package")
    package, code_key = _package(source, directory, options)
    header = read_package_header(package)
    on_step("spawn")
    paths = spawn_node(
        package,
        name=name,
        port=options.port,
        host=options.host,
        backend=options.backend,
        san=options.san,
        operator_tls=options.operator_tls,
    )
    try:
        wait_for_state(paths, ("waiting",), timeout=options.timeout)
        url = node_info(name).url
        enclave = _fetch_and_verify(url, header, directory, options, on_step)
        on_step("seal")
        payload = build_payload(
            enclave,
            code_key=code_key,
            app_secrets=options.app_secrets,
            tls=_owner_tls(source, enclave, options),
            now=datetime.now(UTC),
        )
        envelope = seal_for_enclave(enclave, payload)
        on_step("provision")
        BootstrapClient(url).provision(envelope)
        wait_for_state(paths, ("serving",), timeout=_PROVISION_TIMEOUT)
        on_step("healthcheck")
        scenario, end_to_end, served = _serving_channel(url, enclave, header, options)
        _healthcheck(url, served, header.security_config.healthcheck)
    except BaseException:
        # Stop the node but keep its directory: its log says what went wrong
        # (`veil logs NAME`; `veil stop NAME --remove` to clean up).
        with contextlib.suppress(Exception):
            stop_node(name, grace=2.0)
        raise
    certificate = directory / "certificate.pem"
    certificate.write_bytes(
        x509.load_der_x509_certificate(served).public_bytes(serialization.Encoding.PEM)
    )
    return DeployResult(
        url=url,
        name=name,
        fingerprint=header.fingerprint,
        certificate=certificate,
        scenario=scenario,
        node_dir=paths.root,
        deployment_dir=directory,
        end_to_end=end_to_end,
        simulated=enclave.evidence.verified_quote.tee is Tee.SIMULATED,
    )


def _fetch_and_verify(
    url: str,
    header: PackageHeader,
    directory: Path,
    options: DeployOptions,
    on_step: Callable[[str], None],
) -> OwnerVerifiedEnclave:
    on_step("evidence")
    nonce = secrets.token_bytes(NONCE_BYTES)
    raw = BootstrapClient(url).evidence(nonce=nonce)
    (directory / "evidence.json").write_bytes(raw)
    document = EvidenceDocument.from_json(raw)
    if not hmac.compare_digest(document.deployment.nonce, nonce):
        raise BindingError("the evidence is not over the nonce just sent (a replay?)")
    on_step("verify")
    return verify_owner_evidence(
        document,
        header,
        now=datetime.now(UTC),
        allow_simulated_insecure=options.allow_simulated_insecure,
        simulation_root_public_key=_simulation_root(options),
    )


def _simulation_root(options: DeployOptions) -> bytes | None:
    # Pin this machine's simulation root rather than the key the evidence carries: the node
    # runs here, so its quotes must be signed by the local root.
    return simulation_root_public_key() if options.backend == "simulated" else None
