"""``veil deploy``: package, spawn, verify, seal, provision and check an app in one go."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

from veil.attestation.result import Tee
from veil.crypto.keys import CodeKey, read_code_key, write_code_key
from veil.errors import ConfigError
from veil.host.interface import (
    NameInUseError,
    NodeManager,
    NodeNotFoundError,
    SpawnRequest,
)
from veil.host.node_spec import check_backend_name
from veil.host.state import DEFAULT_SPAWN_TIMEOUT, validate_node_name
from veil.identity.reference import ImageReference, read_image_reference
from veil.owner.home import OwnerHome
from veil.package.config import CONFIG_FILE_NAME, AppConfig
from veil.package.encrypted import read_package_header, write_package
from veil.package.source import prepared_source

if TYPE_CHECKING:
    from veil.package.vendor import WheelStore

__all__ = [
    "DEPLOY_STEPS",
    "SIMULATED_WARNING",
    "DeployOptions",
    "DeployResult",
    "deploy",
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
    #: Where wheels of fully pinned requirements are reused from (the CLI: the wheel cache).
    wheel_store: WheelStore | None = None
    timeout: float = DEFAULT_SPAWN_TIMEOUT
    #: Reuse an existing package and its code key instead of packaging ``source``.
    package: Path | None = None
    code_key: Path | None = None
    #: The guest image's reference values (TDX, SEV-SNP); default: ``[attestation] image``
    #: of the app's ``veil.toml``, or on the simulated backend this machine's simulated image.
    image: ImageReference | None = None


@dataclass(frozen=True)
class DeployResult:
    url: str
    name: str
    fingerprint: str
    #: The verified certificate users should trust (``curl --cacert``).
    certificate: Path
    scenario: str
    #: The node's directory when it runs on this machine.
    node_dir: Path | None
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
            "node_dir": str(self.node_dir) if self.node_dir is not None else None,
            "deployment_dir": str(self.deployment_dir),
        }


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
    with prepared_source(
        source,
        find_links=options.wheels_from,
        no_index=options.no_index,
        wheel_store=options.wheel_store,
    ) as app:
        write_package(app, package, key=key, overwrite=True)
    write_code_key(key_file, key, overwrite=True)
    return package, key


def _app_name(source: Path | None, options: DeployOptions) -> str:
    if options.name is not None:
        return validate_node_name(options.name)
    if options.package is not None:
        return read_package_header(options.package).app_name
    if source is None:
        raise ConfigError("give an app directory or a package")
    return AppConfig.from_toml(source / CONFIG_FILE_NAME).name


def _image(source: Path | None, options: DeployOptions) -> ImageReference | None:
    if options.image is not None or source is None:
        return options.image
    path = AppConfig.from_toml(source / CONFIG_FILE_NAME).attestation.image_path(source)
    image = read_image_reference(path) if path is not None else None
    if image is not None and options.backend == "simulated" and image.tee is not Tee.SIMULATED:
        # veil.toml names the image of the TEE the app is meant for; a simulated try-out on
        # this machine is checked against this machine's environment (an explicit --image of
        # another TEE is still refused).
        return None
    return image


def deploy(
    source: Path | None,
    options: DeployOptions,
    *,
    on_step: Callable[[str], None] = _noop,
    manager: NodeManager | None = None,
    home: OwnerHome | None = None,
) -> DeployResult:
    """Run the whole owner + operator flow and return where the app serves.

    ``manager`` runs the node (default: processes on this machine, under ``$VEIL_HOME``);
    ``home`` keeps the package, code key, evidence and certificate (default: the owner home,
    ``$VEIL_OWNER_HOME``). The enclave is verified like a remote one: the owner trusts nothing
    the node or the operator's files say until the evidence verified against the package just
    built. On any failure after the node started, the node is stopped (its directory and log
    are kept); on any failure at all, the deployment directory (with the code key) is removed.
    """
    if manager is None:
        from veil.host.nodes import LocalNodeManager  # noqa: PLC0415 - the default only

        manager = LocalNodeManager.from_env()
    if home is None:
        home = OwnerHome.from_env()
    if options.backend == "simulated" and not options.allow_simulated_insecure:
        raise ConfigError(
            "the simulated backend has no TEE and every verifier refuses its evidence; pass "
            "--allow-simulated-insecure to deploy on it anyway (test data only)"
        )
    check_backend_name(options.backend)  # before packaging, which takes a while
    name = _app_name(source, options)
    options = replace(options, image=_image(source, options))
    _check_name_free(manager, name)  # before packaging, which takes a while
    directory = home.deployment(name)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        on_step("package")
        package, code_key = _package(source, directory, options)
        header = read_package_header(package)
        on_step("spawn")
        node = manager.spawn(
            SpawnRequest(
                name=name,
                package=package,
                port=options.port,
                host=options.host,
                backend=options.backend,
                san=options.san,
                operator_tls=options.operator_tls,
            )
        )
    except BaseException:
        _remove_deployment(directory)
        raise
    try:
        # Imported now rather than with this module: the node is booting meanwhile, so on a
        # machine with a core to spare the verifier, sealing and TLS code load for free.
        from veil.owner import _deploy_steps as steps  # noqa: PLC0415

        manager.wait(name, ("waiting",), timeout=options.timeout)
        url = node.url
        enclave = steps.fetch_and_verify(
            manager, name, header, directory, options=options, on_step=on_step
        )
        on_step("seal")
        envelope = steps.seal_secrets(enclave, code_key, source, options)
        on_step("provision")
        manager.provision(name, envelope)
        manager.wait(name, ("serving",), timeout=_PROVISION_TIMEOUT)
        on_step("healthcheck")
        scenario, end_to_end, served = steps.serving_channel(
            url, enclave, header, options, manager=manager
        )
        steps.healthcheck(url, served, header.security_config.healthcheck)
    except BaseException:
        # Stop the node but keep its directory: its log says what went wrong
        # (`veil logs NAME`; `veil stop NAME --remove` to clean up).
        with contextlib.suppress(Exception):
            manager.stop(name, grace=2.0)
        _remove_deployment(directory)
        raise
    certificate = directory / "certificate.pem"
    steps.write_certificate(certificate, served)
    return DeployResult(
        url=url,
        name=name,
        fingerprint=header.fingerprint,
        certificate=certificate,
        scenario=scenario,
        node_dir=node.node_dir,
        deployment_dir=directory,
        end_to_end=end_to_end,
        simulated=enclave.evidence.verified_quote.tee is Tee.SIMULATED,
    )


def _check_name_free(manager: NodeManager, name: str) -> None:
    try:
        manager.status(name)
    except NodeNotFoundError:
        return
    raise NameInUseError(
        f"a node named {name!r} already exists; pass --name, or `veil stop {name} --remove`"
    )


def _remove_deployment(directory: Path) -> None:
    # A deploy that failed leaves no code key (a secret) and no package behind: the owner's
    # source is intact and a new deploy makes a fresh key. The node's own directory stays,
    # for its log.
    shutil.rmtree(directory, ignore_errors=True)
