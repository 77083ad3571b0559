"""An app's source ready to package: its config, archive plan and security config."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509

from veil._io import read_bounded
from veil.crypto.digest import sha256_tagged
from veil.errors import ConfigError
from veil.package.archive import ArchivePlan, collect_members
from veil.package.config import CONFIG_FILE_NAME, AppConfig, AppConfigError
from veil.package.ignore import IgnoreRules
from veil.package.security import SecurityConfig
from veil.package.vendor import VendoredDependencies, WheelStore, vendor_dependencies

__all__ = ["MAX_CERTIFICATE_BYTES", "AppSource", "prepared_source"]

#: Largest owner certificate (chain) file read, in bytes.
MAX_CERTIFICATE_BYTES: Final = 256 * 1024


@dataclass(frozen=True)
class AppSource:
    """What will be archived (files + vendored wheels) and the security config it runs under."""

    root: Path
    config: AppConfig
    ignore: IgnoreRules
    plan: ArchivePlan
    security: SecurityConfig

    @classmethod
    def load(cls, root: Path, *, vendored: VendoredDependencies | None = None) -> AppSource:
        """Read ``root/veil.toml``, select the files, and add ``vendored`` wheels if any.

        ``ConfigError`` if the app declares dependencies and ``vendored`` is missing (see
        :func:`prepared_source`, which vendors them).
        """
        if not root.is_dir():
            raise ConfigError(f"{root} is not a directory")
        config = AppConfig.from_toml(root / CONFIG_FILE_NAME)
        if config.dependencies.declared and vendored is None:
            raise ConfigError(
                f"{root / CONFIG_FILE_NAME} declares dependencies; they must be vendored first"
            )
        if vendored is not None and not config.dependencies.declared:
            raise ConfigError(f"{root / CONFIG_FILE_NAME} declares no dependencies to vendor")
        rules = IgnoreRules.for_app(root, config.ignore)
        members = collect_members(root, rules)
        if vendored is not None:
            members += vendored.archive_members()
        plan = ArchivePlan.from_members(members)
        certificate_digest = None
        if config.tls.certificate is not None:
            certificate_digest = _certificate_digest(root, config, plan)
        security = SecurityConfig.from_app_config(
            config,
            tls_certificate_sha256=certificate_digest,
            dependency_lock_sha256=vendored.lock.digest() if vendored is not None else None,
        )
        return cls(root=root, config=config, ignore=rules, plan=plan, security=security)

    def is_packaged(self, path: Path) -> bool:
        """Whether ``path`` (e.g. an output file) is one of the files that would be archived."""
        try:
            relative = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return False
        return relative.as_posix() in {m.path for m in self.plan.members}


def _certificate_digest(root: Path, config: AppConfig, plan: ArchivePlan) -> str:
    key = f"{root / CONFIG_FILE_NAME}: key 'tls.certificate'"
    name = config.tls.certificate
    if name not in {m.path for m in plan.members}:
        raise AppConfigError(f"{key}: {name} is not among the packaged files (missing or ignored)")
    path = root / str(name)
    data = read_bounded(
        path,
        max_bytes=MAX_CERTIFICATE_BYTES,
        what=f"{key}: certificate",
        error=AppConfigError,
        too_large=AppConfigError,
    )
    try:
        x509.load_pem_x509_certificates(data)
    except (ValueError, x509.InvalidVersion):
        raise AppConfigError(f"{key}: {path} is not a PEM certificate") from None
    return sha256_tagged(data)


@contextlib.contextmanager
def prepared_source(
    root: Path,
    *,
    find_links: Sequence[Path] = (),
    no_index: bool = False,
    wheel_store: WheelStore | None = None,
) -> Iterator[AppSource]:
    """The app's source with its dependencies vendored into a scratch directory (removed after).

    Apps without dependencies never run pip; with a ``wheel_store`` (the CLI passes the local
    wheel cache) pinned requirements resolved before do not run it either.
    """
    config = AppConfig.from_toml(root / CONFIG_FILE_NAME)
    if not config.dependencies.declared:
        yield AppSource.load(root)
        return
    with tempfile.TemporaryDirectory(prefix="veil-vendor-") as scratch:
        vendored = vendor_dependencies(
            root,
            config.dependencies,
            scratch=Path(scratch),
            find_links=find_links,
            no_index=no_index,
            store=wheel_store,
        )
        yield AppSource.load(root, vendored=vendored)
