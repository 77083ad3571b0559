"""The options several commands share: each registered and parsed by one function here."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from veil.errors import ConfigError

if TYPE_CHECKING:
    from veil.attestation.sources.interface import CollateralSource
    from veil.identity.reference import ImageReference
    from veil.package.vendor import WheelStore

__all__ = [
    "BACKEND_HELP",
    "MAX_PORT",
    "SIMULATION_ROOTS",
    "UNTRUSTED_SSL_WARNING",
    "add_at_option",
    "add_backend_option",
    "add_image_option",
    "add_json_option",
    "add_nonce_option",
    "add_simulation_options",
    "add_vendoring_options",
    "at",
    "collateral_source",
    "image",
    "nonce",
    "operator_tls",
    "parse_at",
    "port_number",
    "simulation_root",
    "wheel_store",
]

# This module is built with the parser, so the readers below import the library they need
# when a command reads its value (PLC0415): `veil --version` must not load it.

#: TCP ports are 16-bit; port 0 would mean "any port" to the kernel, so the range starts at 1.
MAX_PORT: Final = 65535
#: ``--backend`` help; the names are checked before a node is created (veil.host.node_spec),
#: not here, so that building the parser does not load the backend registry.
BACKEND_HELP: Final = "TEE backend: simulated (default), gramine-sgx or configfs-tsm"
#: Said every time the operator scenario is chosen: users must not mistake it for privacy.
UNTRUSTED_SSL_WARNING: Final = (
    "--untrusted-ssl: the operator's own certificate terminates TLS, so the operator can read "
    "and change all traffic between users and the app. The evidence still proves which code "
    "runs, but the channel is NOT end to end, and users must accept it with "
    "--allow-operator-tls. Use it only for tests with test data."
)
#: ``--simulation-root`` values: pin this machine's root when there is one, or trust the key
#: the evidence carries.
SIMULATION_ROOTS: Final = ("auto", "evidence")


# ----- --port, --backend, --untrusted-ssl-cert/-key -----------------------------------------


def port_number(text: str) -> int:
    """``--port``: a TCP port, 1 to 65535 (argparse turns the error into a usage error)."""
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1 to {MAX_PORT})")
    return port


def add_backend_option(parser: argparse._ActionsContainer) -> None:
    parser.add_argument("--backend", default="simulated", help=BACKEND_HELP)


def operator_tls(args: argparse.Namespace) -> tuple[Path, Path] | None:
    """``--untrusted-ssl-cert`` and ``--untrusted-ssl-key`` (both or neither); the caller shows
    ``UNTRUSTED_SSL_WARNING`` when they are given."""
    if not (args.untrusted_ssl_cert or args.untrusted_ssl_key):
        return None
    if not (args.untrusted_ssl_cert and args.untrusted_ssl_key):
        raise ConfigError("--untrusted-ssl-cert and --untrusted-ssl-key go together")
    return Path(args.untrusted_ssl_cert), Path(args.untrusted_ssl_key)


# ----- --json -------------------------------------------------------------------------------


def add_json_option(parser: argparse._ActionsContainer, help: str = "print JSON on stdout") -> None:
    parser.add_argument("--json", action="store_true", help=help)


# ----- --at ---------------------------------------------------------------------------------


def add_at_option(
    parser: argparse._ActionsContainer,
    help: str = "verify as of this RFC 3339 time (default: now)",
    *,
    metavar: str = "TIME",
) -> None:
    parser.add_argument("--at", metavar=metavar, help=help)


def parse_at(text: str) -> datetime:
    """An ``--at`` value: an RFC 3339 date-time with its time zone (a naive time would be read
    in some zone or other, and a verdict must not depend on where it is given)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as e:
        raise ConfigError(f"--at: not an RFC 3339 date-time: {text!r}") from e
    if value.utcoffset() is None:
        raise ConfigError("--at: give a time zone (e.g. 2025-06-27T04:53:20Z)")
    return value


def at(args: argparse.Namespace) -> datetime:
    """``--at``, or now: the CLI is the I/O shell, the one place that reads the clock."""
    text: str | None = args.at
    return datetime.now(UTC) if text is None else parse_at(text)


# ----- --collateral, --pccs-url, --pccs-ca-file, --pcs ------------------------------------


def collateral_source(
    args: argparse.Namespace, *, cache_dir: Path | None = None
) -> CollateralSource | None:
    """The collateral source of ``--collateral FILE``, ``--pccs-url URL`` (``--pccs-ca-file``)
    or ``--pcs``, those of them the command has; ``None`` when none is given. Each command
    registers its own (their help differs); the choice is the library's one."""
    collateral: str | Path | None = getattr(args, "collateral", None)
    pccs_url: str | None = getattr(args, "pccs_url", None)
    pccs_ca_file: str | None = getattr(args, "pccs_ca_file", None)
    if pccs_ca_file is not None and pccs_url is None:
        raise ConfigError("--pccs-ca-file goes with --pccs-url")
    from veil.attestation.sources.choice import choose_collateral_source  # noqa: PLC0415

    return choose_collateral_source(
        file=Path(collateral) if collateral else None,
        pccs_url=pccs_url,
        pcs=bool(getattr(args, "pcs", False)),
        pccs_ca_file=pccs_ca_file,
        cache_dir=cache_dir,
    )


# ----- --image ------------------------------------------------------------------------------


def add_image_option(
    parser: argparse._ActionsContainer,
    help: str = (
        "the guest image's reference values (JSON, from its builder): required to verify "
        "a TDX or SEV-SNP enclave"
    ),
) -> None:
    parser.add_argument("--image", metavar="FILE", help=help)


def image(args: argparse.Namespace) -> ImageReference | None:
    """``--image FILE``: the guest image's reference values, or ``None``."""
    if not args.image:
        return None
    from veil.identity.reference import read_image_reference  # noqa: PLC0415

    return read_image_reference(Path(args.image))


# ----- --nonce ------------------------------------------------------------------------------


def add_nonce_option(
    parser: argparse._ActionsContainer,
    help: str = (
        "owner: the nonce you gave the operator for `veil evidence --nonce`; the evidence "
        "must answer it, signed by the attested key (proves it is fresh, not replayed)"
    ),
) -> None:
    parser.add_argument("--nonce", metavar="HEX", help=help)


def nonce(args: argparse.Namespace) -> bytes | None:
    """``--nonce HEX``: the nonce bytes, or ``None``."""
    text: str | None = getattr(args, "nonce", None)
    if text is None:
        return None
    from veil.ratls.freshness import parse_nonce_hex  # noqa: PLC0415

    return parse_nonce_hex(text)


# ----- --allow-simulated-insecure, --simulation-root ----------------------------------------


def add_simulation_options(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--allow-simulated-insecure",
        action="store_true",
        help="accept SIMULATED evidence (no TEE: proves nothing; test data only)",
    )
    parser.add_argument(
        "--simulation-root",
        metavar="auto|evidence",
        default="auto",
        help=(
            "trust anchor for simulated evidence: 'auto' pins this machine's simulation root "
            "when it exists, else takes the key the evidence carries; 'evidence' always does"
        ),
    )


def simulation_root(args: argparse.Namespace) -> bytes | None:
    """The simulation root public key to pin, or ``None`` to take the evidence's own."""
    if not args.allow_simulated_insecure or args.simulation_root == "evidence":
        return None
    if args.simulation_root not in SIMULATION_ROOTS:
        raise ConfigError("--simulation-root must be 'auto' or 'evidence'")
    from veil.host.homes import OperatorHome  # noqa: PLC0415
    from veil.host.simulation import existing_simulation_root  # noqa: PLC0415

    return existing_simulation_root(OperatorHome.from_env())


# ----- --wheels-from, --no-index, --no-wheel-cache ------------------------------------------


def add_vendoring_options(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--wheels-from",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also look for dependency wheels in DIR (pip --find-links; repeatable)",
    )
    parser.add_argument(
        "--no-index",
        action="store_true",
        help="do not contact the package index: take every wheel from --wheels-from",
    )
    parser.add_argument(
        "--no-wheel-cache",
        action="store_true",
        help=(
            "always run pip: do not reuse, or record, the wheels of fully pinned requirements "
            "in the local wheel cache"
        ),
    )


def wheel_store(args: argparse.Namespace) -> WheelStore | None:
    """The local wheel cache (``$XDG_CACHE_HOME/veil``), or none with ``--no-wheel-cache``."""
    if getattr(args, "no_wheel_cache", False):
        return None
    from veil.package.wheel_cache import WheelCache, cache_root  # noqa: PLC0415

    return WheelCache(cache_root(os.environ, Path.home()))
