"""Valid veil-made inputs that seed the harnesses: an RA-TLS certificate, an app package."""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec

from veil.attestation.simulated import SimulationRoot, issue_simulated_quote
from veil.crypto.keys import CodeKey
from veil.package.encrypted import write_package
from veil.package.source import AppSource
from veil.ratls.claims import RatlsClaims
from veil.ratls.issue import IssuedCertificate, issue_ratls_certificate

__all__ = [
    "CLAIM_VALUES",
    "NOW",
    "SimulatedEvidence",
    "app_package",
    "by_field_name",
    "simulated_evidence",
]

T = TypeVar("T")

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SEALING_PUBLIC_KEY = b"K" * 32
#: A valid value for each claim (and evidence.json deployment field), by name.
CLAIM_VALUES: dict[str, Any] = {
    "app_name": "hello",
    "app_fingerprint": "sha256:" + "12" * 32,
    "security_config_digest": "sha256:" + "56" * 32,
    "runtime_version": "0.1.0",
    "runtime_digest": "sha256:" + "34" * 32,
    "instance_id": "0123456789abcdef" * 2,
    "port": 8443,
    "created_at": NOW,
    "tls_scenario": "zero-trust",
    "tls_pin": "sha256:" + "78" * 32,
}


def by_field_name(cls: Callable[..., T], values: Mapping[str, Any]) -> T:
    """``cls`` built from the ``values`` named like its dataclass fields, defaults for the rest:
    the seeds follow claims and deployment fields as they grow (a new one needs a value)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{name: value for name, value in values.items() if name in names})


@dataclass(frozen=True)
class SimulatedEvidence:
    root: SimulationRoot
    issued: IssuedCertificate
    claims: RatlsClaims


@functools.cache
def simulated_evidence() -> SimulatedEvidence:
    """An RA-TLS certificate carrying veil's evidence extension over a simulated quote."""
    root = SimulationRoot.generate()
    claims = by_field_name(RatlsClaims, CLAIM_VALUES)

    def quote(report_data: bytes) -> bytes:
        return issue_simulated_quote(
            root,
            measurement=bytes(48),
            image=bytes(48),
            report_data=report_data,
            platform_id=bytes(16),
            debug=False,
            now=NOW,
        )

    issued = issue_ratls_certificate(
        ec.generate_private_key(ec.SECP256R1()),
        quote_fn=quote,
        sealing_public_key=SEALING_PUBLIC_KEY,
        sealing_suite="x25519",
        sans=["app.example"],
        now=NOW,
        nonce=b"n" * 16,
        claims=claims,
    )
    return SimulatedEvidence(root, issued, claims)


@functools.cache
def app_package() -> tuple[bytes, bytes]:
    """(a ``.veil`` package of a two-file app, the app's uncompressed archive)."""
    with tempfile.TemporaryDirectory(prefix="veil-fuzz-") as directory:
        root = Path(directory) / "app"
        root.mkdir()
        (root / "veil.toml").write_text('name = "demo"\npython_application = "app:app"\n')
        (root / "app.py").write_text("app = None\n")
        (root / "data").mkdir()
        (root / "data" / "blob.bin").write_bytes(bytes(range(256)) * 3)
        source = AppSource.load(root)
        package = Path(directory) / "app.veil"
        write_package(source, package, key=CodeKey.generate())
        with source.plan.open() as archive:
            return package.read_bytes(), archive.read()
