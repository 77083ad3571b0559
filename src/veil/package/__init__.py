"""veil.package: the veil.toml model, deterministic archive, app fingerprint and .veil format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.package.archive import ArchiveError, write_archive
    from veil.package.config import CONFIG_FILE_NAME, AppConfig, AppConfigError
    from veil.package.encrypted import (
        DecryptedPackage,
        PackageFormatError,
        PackageHeader,
        PackageInfo,
        decrypt_package,
        read_package_header,
        write_package,
    )
    from veil.package.fingerprint import AppFingerprint, compute_fingerprint, fingerprint_source
    from veil.package.ignore import IgnoreRules
    from veil.package.lock import LockedWheel, WheelLock
    from veil.package.security import SecurityConfig, SecurityConfigError
    from veil.package.source import AppSource, prepared_source
    from veil.package.vendor import VendorError, vendor_dependencies
    from veil.package.wheel_cache import WheelCache

__all__ = [
    "CONFIG_FILE_NAME",
    "AppConfig",
    "AppConfigError",
    "AppFingerprint",
    "AppSource",
    "ArchiveError",
    "DecryptedPackage",
    "IgnoreRules",
    "LockedWheel",
    "PackageFormatError",
    "PackageHeader",
    "PackageInfo",
    "SecurityConfig",
    "SecurityConfigError",
    "VendorError",
    "WheelCache",
    "WheelLock",
    "compute_fingerprint",
    "decrypt_package",
    "fingerprint_source",
    "prepared_source",
    "read_package_header",
    "vendor_dependencies",
    "write_archive",
    "write_package",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "archive": ("ArchiveError", "write_archive"),
        "config": ("AppConfig", "AppConfigError", "CONFIG_FILE_NAME"),
        "encrypted": (
            "DecryptedPackage",
            "PackageFormatError",
            "PackageHeader",
            "PackageInfo",
            "decrypt_package",
            "read_package_header",
            "write_package",
        ),
        "fingerprint": ("AppFingerprint", "compute_fingerprint", "fingerprint_source"),
        "ignore": ("IgnoreRules",),
        "lock": ("LockedWheel", "WheelLock"),
        "security": ("SecurityConfig", "SecurityConfigError"),
        "source": ("AppSource", "prepared_source"),
        "vendor": ("VendorError", "vendor_dependencies"),
        "wheel_cache": ("WheelCache",),
    },
)
