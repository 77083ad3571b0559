"""``python -m veil.enclave --node-dir DIR``: run one enclave node (started by ``veil spawn``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from veil.enclave._stop_signals import record_stop_signals

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    record_stop_signals()  # first: a stop during the slow imports below must not go unlogged
    parser = argparse.ArgumentParser(
        prog="python -m veil.enclave",
        description="Run a veil enclave node for a node directory written by the host.",
    )
    parser.add_argument("--node-dir", type=Path, required=True, help="the node directory")
    args = parser.parse_args(argv)
    from veil.enclave.node import run  # noqa: PLC0415 - after parsing: --help stays instant

    return run(args.node_dir)


if __name__ == "__main__":
    sys.exit(main())
