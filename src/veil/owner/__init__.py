"""veil.owner: what the app owner runs — verify evidence, seal secrets, deploy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.owner.deploy import DeployOptions, DeployResult
    from veil.owner.home import OwnerHome
    from veil.owner.packaging import PlainArchive, package_source
    from veil.owner.seal import OwnerTls, seal_for_enclave
    from veil.owner.verify import (
        OwnerVerifiedEnclave,
        PackageMismatchError,
        read_evidence_file,
        verify_owner_evidence,
    )

__all__ = [
    "DeployOptions",
    "DeployResult",
    "OwnerHome",
    "OwnerTls",
    "OwnerVerifiedEnclave",
    "PackageMismatchError",
    "PlainArchive",
    "package_source",
    "read_evidence_file",
    "seal_for_enclave",
    "verify_owner_evidence",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "deploy": ("DeployOptions", "DeployResult"),
        "home": ("OwnerHome",),
        "packaging": ("PlainArchive", "package_source"),
        "seal": ("OwnerTls", "seal_for_enclave"),
        "verify": (
            "OwnerVerifiedEnclave",
            "PackageMismatchError",
            "read_evidence_file",
            "verify_owner_evidence",
        ),
    },
)
