"""The app fingerprint: one digest over the canonical archive and the security config."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from veil.crypto.digest import SHA256_SIZE, format_tagged_sha256
from veil.package.archive import archive_digest

if TYPE_CHECKING:
    from veil.package.source import AppSource  # the node, which only checks, never loads it

__all__ = [
    "FINGERPRINT_LABEL",
    "AppFingerprint",
    "compute_fingerprint",
    "fingerprint_source",
    "is_same_fingerprint",
]

#: Domain-separation label, the first field hashed: a fingerprint can never collide with
#: another veil digest over the same bytes.
FINGERPRINT_LABEL: Final = b"veil/app-fingerprint/v1"


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "little") + data


def compute_fingerprint(*, archive_sha256: bytes, security_config: bytes) -> str:
    """``sha256:<hex>`` of ``L(label) || L(archive digest) || L(security config JSON)``.

    ``L(x)`` is the byte length of ``x`` as a little-endian u64 followed by ``x``;
    ``security_config`` is the canonical JSON of :class:`~veil.package.security.SecurityConfig`.
    """
    if len(archive_sha256) != SHA256_SIZE:
        raise ValueError(f"archive digest must be {SHA256_SIZE} bytes")
    hasher = hashlib.sha256()
    for part in (FINGERPRINT_LABEL, archive_sha256, security_config):
        hasher.update(_field(part))
    return format_tagged_sha256(hasher.digest())


def is_same_fingerprint(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class AppFingerprint:
    fingerprint: str
    archive_sha256: str
    archive_size: int


def fingerprint_source(
    source: AppSource, *, on_progress: Callable[[int], None] | None = None
) -> AppFingerprint:
    """Recompute an app's fingerprint from its plaintext source; no key involved."""
    digest = archive_digest(source.plan, on_read=on_progress)
    return AppFingerprint(
        fingerprint=compute_fingerprint(
            archive_sha256=digest, security_config=source.security.to_json()
        ),
        archive_sha256=format_tagged_sha256(digest),
        archive_size=source.plan.size,
    )
