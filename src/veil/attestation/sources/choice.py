"""The one choice of a collateral source from a verifier's options: a file, a PCCS or Intel PCS."""

from __future__ import annotations

from pathlib import Path

import httpx

from veil.attestation.sources.cache import CachingCollateralSource
from veil.attestation.sources.file import FileCollateralSource
from veil.attestation.sources.interface import CollateralSource
from veil.attestation.sources.pccs import PccsSource
from veil.attestation.sources.pcs import IntelPcsSource
from veil.errors import ConfigError

__all__ = ["choose_collateral_source"]


def choose_collateral_source(
    *,
    file: Path | None = None,
    pccs_url: str | None = None,
    pcs: bool = False,
    pccs_ca_file: str | None = None,
    cache_dir: Path | None = None,
    client: httpx.Client | None = None,
) -> CollateralSource | None:
    """The source named by at most one of a bundle ``file``, a ``pccs_url`` and ``pcs`` (Intel
    PCS v4), or ``None`` when none is named. A PCCS or PCS sits behind a cache in ``cache_dir``
    when one is given.

    Collateral is public and Intel-signed, and the verifier checks it: where it comes from only
    decides whether verification can be offline, never what the verdict is. ``ConfigError`` for
    options that contradict each other, a PCCS URL that is not http(s), or an unreadable CA file.
    """
    if (file is not None) + (pccs_url is not None) + pcs > 1:
        raise ConfigError("give at most one collateral source: a file, a PCCS URL or Intel PCS")
    if pccs_ca_file is not None and pccs_url is None:
        # Ignoring it would leave the user believing a PCCS certificate was pinned.
        raise ConfigError("a PCCS CA file is only meaningful with a PCCS URL")
    if file is not None:
        return FileCollateralSource(file)
    inner: CollateralSource
    if pccs_url is not None:
        try:
            inner = PccsSource(pccs_url, client=client, ca_file=pccs_ca_file)
        except ValueError as e:
            raise ConfigError(str(e)) from e
        except OSError as e:
            raise ConfigError(f"cannot use the PCCS CA file {pccs_ca_file}: {e}") from e
    elif pcs:
        inner = IntelPcsSource(client=client)
    else:
        return None
    return inner if cache_dir is None else CachingCollateralSource(inner, cache_dir)
