"""veil.owner: what the app owner runs — verify evidence, seal secrets, deploy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from veil import _lazy_exports

if TYPE_CHECKING:
    from veil.owner.deploy import DeployOptions, DeployResult
    from veil.owner.home import OwnerHome
    from veil.owner.packaging import PlainArchive, package_source
    from veil.owner.seal import OwnerTls, SealedSecrets, seal_for_enclave, seal_to_evidence
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
    "SealedSecrets",
    "package_source",
    "read_evidence_file",
    "seal_for_enclave",
    "seal_to_evidence",
    "verify_owner_evidence",
]

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "deploy": ("DeployOptions", "DeployResult"),
        "home": ("OwnerHome",),
        "packaging": ("PlainArchive", "package_source"),
        "seal": ("OwnerTls", "SealedSecrets", "seal_for_enclave", "seal_to_evidence"),
        "verify": (
            "OwnerVerifiedEnclave",
            "PackageMismatchError",
            "read_evidence_file",
            "verify_owner_evidence",
        ),
    },
)
