"""The ``veil.toml`` model: an app's name, entry point, TLS scenario, dependencies and ignores."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal, get_args

from veil._io import read_bounded
from veil.errors import ConfigError

__all__ = [
    "CONFIG_FILE_NAME",
    "DEFAULT_HEALTHCHECK",
    "MAX_CONFIG_BYTES",
    "AppConfig",
    "AppConfigError",
    "AttestationConfig",
    "DependencyConfig",
    "Interface",
    "TlsConfig",
    "TlsScenario",
]

#: The file an app directory must contain.
CONFIG_FILE_NAME: Final = "veil.toml"
#: Largest ``veil.toml`` read, in bytes: a real one is well under 2 KiB.
MAX_CONFIG_BYTES: Final = 64 * 1024
DEFAULT_HEALTHCHECK: Final = "/health"

TlsScenario = Literal["zero-trust", "owner-certificate", "operator"]
Interface = Literal["auto", "asgi", "wsgi"]

_NAME_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_IDENTIFIER: Final = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED: Final = rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*"
_APPLICATION_RE: Final = re.compile(rf"{_DOTTED}:{_DOTTED}")
_HEALTHCHECK_RE: Final = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,255}")
_DOMAIN_LABEL_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_DOMAIN_CHARS: Final = 253
_MAX_IGNORE_PATTERNS: Final = 1000
_MAX_PATH_CHARS: Final = 1024
_PLATFORM_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_PYTHON_VERSION_RE: Final = re.compile(r"3(?:\.[0-9]{1,2}){0,2}")


class AppConfigError(ConfigError):
    """``veil.toml`` is unreadable, malformed, or has a missing, unknown or invalid key."""


@dataclass(frozen=True)
class TlsConfig:
    """How the app's users reach it over TLS (see DESIGN.md, "TLS scenarios")."""

    scenario: TlsScenario = "zero-trust"
    #: Owner-certificate only: the domain the certificate is for.
    domain: str | None = None
    #: Owner-certificate only: PEM certificate (chain), relative to the app directory.
    certificate: str | None = None


@dataclass(frozen=True)
class DependencyConfig:
    """Where the app's third-party dependencies are declared; they are vendored as wheels."""

    #: A pip requirements file, relative to the app directory.
    requirements: str | None = None
    #: Take ``[project.dependencies]`` from the app's own ``pyproject.toml``.
    pyproject: bool = False
    #: ``pip download --platform`` tags, for an enclave whose platform differs from this host.
    platforms: tuple[str, ...] = ()
    #: ``pip download --python-version``, same reason.
    python_version: str | None = None

    @property
    def declared(self) -> bool:
        return self.requirements is not None or self.pyproject


@dataclass(frozen=True)
class AttestationConfig:
    """How the owner's tools verify the enclave. Verifier-side only: not in the security config
    (the enclave never reads it), so changing it changes no attested identity."""

    #: The guest image's reference-value file (TDX, SEV-SNP), relative to the app directory
    #: or absolute; what ``--image`` gives on the command line.
    image: str | None = None

    def image_path(self, app_dir: Path) -> Path | None:
        return None if self.image is None else app_dir / self.image


@dataclass(frozen=True)
class AppConfig:
    """A validated ``veil.toml``. Build it with :meth:`from_toml`."""

    name: str
    python_application: str
    interface: Interface = "auto"
    healthcheck: str = DEFAULT_HEALTHCHECK
    allow_restart_without_owner: bool = False
    ignore: tuple[str, ...] = ()
    tls: TlsConfig = field(default_factory=TlsConfig)
    dependencies: DependencyConfig = field(default_factory=DependencyConfig)
    attestation: AttestationConfig = field(default_factory=AttestationConfig)

    @classmethod
    def from_toml(cls, source: Path | bytes, *, origin: str | None = None) -> AppConfig:
        """Parse and validate ``veil.toml`` from a path or its bytes.

        ``origin`` names the file in error messages when ``source`` is bytes. Every problem
        raises :class:`AppConfigError` naming the file, the key and what was expected.
        """
        if isinstance(source, Path):
            where = origin or str(source)
            data = _read_config_file(source, where)
        else:
            where = origin or CONFIG_FILE_NAME
            data = source
        if len(data) > MAX_CONFIG_BYTES:
            raise AppConfigError(f"{where}: larger than {MAX_CONFIG_BYTES} bytes")
        try:
            document = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise AppConfigError(f"{where}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as e:
            raise AppConfigError(f"{where}: invalid TOML: {e}") from None
        return cls.from_mapping(document, where=where)

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any], *, where: str) -> AppConfig:
        """Validate an already parsed document (TOML or JSON); ``where`` names it in errors."""
        return _Reader(where).app(document)

    def python_module(self) -> str:
        return self.python_application.partition(":")[0]


def _read_config_file(path: Path, where: str) -> bytes:
    data = read_bounded(
        path,
        max_bytes=MAX_CONFIG_BYTES,
        what="app config",
        missing_ok=True,
        error=AppConfigError,
        too_large=AppConfigError,
    )
    if data is None:
        raise AppConfigError(f"{where}: not found (every app directory needs a veil.toml)")
    return data


class _Reader:
    """Validates a parsed TOML document key by key, naming the file and key on failure."""

    def __init__(self, where: str) -> None:
        self._where = where

    def _fail(self, key: str, expected: str) -> AppConfigError:
        return AppConfigError(f"{self._where}: key '{key}': expected {expected}")

    def _check_keys(self, table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            names = ", ".join(f"'{prefix}{k}'" for k in unknown)
            raise AppConfigError(
                f"{self._where}: unknown key {names}; allowed keys: "
                + ", ".join(f"'{prefix}{k}'" for k in sorted(allowed))
            )

    def _string(self, table: Mapping[str, Any], key: str, full: str, expected: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(full, expected)
        return value

    def _bool(self, table: Mapping[str, Any], key: str, full: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self._fail(full, "true or false")
        return value

    def _table(self, table: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, dict):
            raise self._fail(key, f"a table [{key}]")
        return value

    def _relative_path(self, value: str, full: str) -> str:
        path = PurePosixPath(value)
        if (
            not value
            or len(value) > _MAX_PATH_CHARS
            or "\\" in value
            or path.is_absolute()
            or any(part in {"..", "."} for part in value.split("/"))
        ):
            raise self._fail(full, "a relative path inside the app directory (no '..')")
        return str(path)

    def app(self, doc: Mapping[str, Any]) -> AppConfig:
        self._check_keys(
            doc,
            {
                "name",
                "python_application",
                "interface",
                "healthcheck",
                "allow_restart_without_owner",
                "ignore",
                "tls",
                "dependencies",
                "attestation",
            },
            "",
        )
        name_expected = "a lowercase DNS label (1-63 of a-z, 0-9, '-'; no leading/trailing '-')"
        name = self._string(doc, "name", "name", name_expected)
        if name is None or not _NAME_RE.fullmatch(name):
            raise self._fail("name", name_expected)
        app_expected = "'module:attribute' naming an ASGI or WSGI callable, e.g. 'app:app'"
        application = self._string(doc, "python_application", "python_application", app_expected)
        if application is None or not _APPLICATION_RE.fullmatch(application):
            raise self._fail("python_application", app_expected)
        interfaces = get_args(Interface)
        interface = doc.get("interface", "auto")
        if interface not in interfaces:
            raise self._fail("interface", "one of " + ", ".join(f"'{i}'" for i in interfaces))
        health_expected = "a URL path starting with '/' (at most 256 characters, no spaces)"
        healthcheck = self._string(doc, "healthcheck", "healthcheck", health_expected)
        if healthcheck is None:
            healthcheck = DEFAULT_HEALTHCHECK
        if not _HEALTHCHECK_RE.fullmatch(healthcheck):
            raise self._fail("healthcheck", health_expected)
        return AppConfig(
            name=name,
            python_application=application,
            interface=interface,
            healthcheck=healthcheck,
            allow_restart_without_owner=self._bool(
                doc, "allow_restart_without_owner", "allow_restart_without_owner"
            ),
            ignore=self._ignore(doc),
            tls=self._tls(self._table(doc, "tls")),
            dependencies=self._dependencies(self._table(doc, "dependencies")),
            attestation=self._attestation(self._table(doc, "attestation")),
        )

    def _attestation(self, table: Mapping[str, Any]) -> AttestationConfig:
        self._check_keys(table, {"image"}, "attestation.")
        expected = "a path to the guest image's reference-value JSON file"
        image = self._string(table, "image", "attestation.image", expected)
        if image is not None and (not image or len(image) > _MAX_PATH_CHARS or "\0" in image):
            raise self._fail("attestation.image", expected)
        return AttestationConfig(image=image)

    def _ignore(self, doc: Mapping[str, Any]) -> tuple[str, ...]:
        value = doc.get("ignore", [])
        expected = f"a list of at most {_MAX_IGNORE_PATTERNS} gitignore-style pattern strings"
        if (
            not isinstance(value, list)
            or len(value) > _MAX_IGNORE_PATTERNS
            or not all(isinstance(p, str) and p.strip() and "\n" not in p for p in value)
        ):
            raise self._fail("ignore", expected)
        return tuple(value)

    def _tls(self, table: Mapping[str, Any]) -> TlsConfig:
        self._check_keys(table, {"scenario", "domain", "certificate"}, "tls.")
        scenarios = get_args(TlsScenario)
        scenario = table.get("scenario", "zero-trust")
        if scenario not in scenarios:
            raise self._fail("tls.scenario", "one of " + ", ".join(f"'{s}'" for s in scenarios))
        domain = self._string(table, "domain", "tls.domain", "a DNS name")
        certificate = self._string(
            table, "certificate", "tls.certificate", "a path to a PEM certificate"
        )
        if scenario != "owner-certificate":
            for key, value in (("domain", domain), ("certificate", certificate)):
                if value is not None:
                    raise AppConfigError(
                        f"{self._where}: key 'tls.{key}': only allowed with "
                        f"scenario 'owner-certificate' (the {scenario} scenario takes the "
                        "domain as a deployment argument)"
                    )
            return TlsConfig(scenario=scenario)
        if domain is None or not _is_domain(domain):
            raise self._fail("tls.domain", "a lowercase DNS name such as 'app.example.com'")
        if certificate is None:
            raise self._fail("tls.certificate", "a path to the PEM certificate for the domain")
        return TlsConfig(
            scenario=scenario,
            domain=domain,
            certificate=self._relative_path(certificate, "tls.certificate"),
        )

    def _dependencies(self, table: Mapping[str, Any]) -> DependencyConfig:
        self._check_keys(
            table, {"requirements", "pyproject", "platforms", "python_version"}, "dependencies."
        )
        requirements = self._string(
            table, "requirements", "dependencies.requirements", "a requirements file path"
        )
        pyproject = self._bool(table, "pyproject", "dependencies.pyproject")
        if requirements is not None and pyproject:
            raise AppConfigError(
                f"{self._where}: keys 'dependencies.requirements' and 'dependencies.pyproject' "
                "are exclusive: declare dependencies in one place"
            )
        platforms = table.get("platforms", [])
        if not isinstance(platforms, list) or not all(
            isinstance(p, str) and _PLATFORM_RE.fullmatch(p) for p in platforms
        ):
            raise self._fail(
                "dependencies.platforms", "a list of wheel platform tags ('manylinux2014_x86_64')"
            )
        python_version = self._string(
            table, "python_version", "dependencies.python_version", "a version such as '3.12'"
        )
        if python_version is not None and not _PYTHON_VERSION_RE.fullmatch(python_version):
            raise self._fail("dependencies.python_version", "a version such as '3.12'")
        return DependencyConfig(
            requirements=(
                self._relative_path(requirements, "dependencies.requirements")
                if requirements is not None
                else None
            ),
            pyproject=pyproject,
            platforms=tuple(platforms),
            python_version=python_version,
        )


def _is_domain(value: str) -> bool:
    labels = value.split(".")
    return (
        len(value) <= _MAX_DOMAIN_CHARS
        and len(labels) >= 2
        and all(_DOMAIN_LABEL_RE.fullmatch(label) for label in labels)
    )
