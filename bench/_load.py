"""A small HTTPS load generator, run as its own process so it never shares a GIL with a server.

``python -m bench._load URL --cacert PEM --mode keepalive|new-connection --duration S
--concurrency N`` prints one JSON object: request count, elapsed seconds, latencies (s).
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import threading
import time

import httpx


def _worker(
    url: str,
    context: ssl.SSLContext,
    *,
    new_connection: bool,
    deadline: float,
    latencies: list[float],
    errors: list[str],
) -> None:
    headers = {"connection": "close"} if new_connection else {}
    with httpx.Client(verify=context, timeout=30.0) as client:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                response = client.get(url, headers=headers)
                response.raise_for_status()
            except httpx.HTTPError as e:
                errors.append(type(e).__name__)
                continue
            latencies.append(time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._load")
    parser.add_argument("url")
    parser.add_argument("--cacert", required=True)
    parser.add_argument("--mode", choices=("keepalive", "new-connection"), default="keepalive")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    context = ssl.create_default_context(cafile=args.cacert)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + args.duration
    start = time.perf_counter()
    threads = [
        threading.Thread(
            target=_worker,
            args=(args.url, context),
            kwargs={
                "new_connection": args.mode == "new-connection",
                "deadline": deadline,
                "latencies": latencies,
                "errors": errors,
            },
        )
        for _ in range(args.concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    json.dump(
        {
            "requests": len(latencies),
            "errors": len(errors),
            "elapsed": elapsed,
            "latencies": latencies,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
