"""A TLS-terminating proxy (what an operator can put in front of a node): its own certificate
towards clients, a TLS connection it does not verify towards the node, bytes relayed both ways."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.e2e._certs import CertFiles


def _pump(a: ssl.SSLSocket, b: ssl.SSLSocket) -> None:
    """Relay both ways from one thread: an SSL socket must not be read and written from two."""
    peer = {a: b, b: a}
    try:
        while True:
            # Records OpenSSL already decrypted are not visible to select().
            ready = [s for s in (a, b) if s.pending()] or select.select([a, b], [], [], 30)[0]
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                peer[sock].sendall(data)
    except OSError:
        return
    finally:
        for sock in (a, b):
            with contextlib.suppress(OSError):
                sock.close()


def _connect(raw: socket.socket, server: ssl.SSLContext, upstream: tuple[str, int]) -> None:
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.check_hostname = False
    client_context.verify_mode = ssl.CERT_NONE
    try:
        downstream = server.wrap_socket(raw, server_side=True)
        node = client_context.wrap_socket(socket.create_connection(upstream, timeout=30))
    except OSError:
        raw.close()
        return
    _pump(downstream, node)


def _serve(
    listener: socket.socket,
    server: ssl.SSLContext,
    upstream: tuple[str, int],
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        try:
            raw, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        raw.settimeout(30)
        threading.Thread(target=_connect, args=(raw, server, upstream), daemon=True).start()


@contextlib.contextmanager
def tls_terminating_proxy(upstream_url: str, certs: CertFiles) -> Iterator[str]:
    """Serve ``https://127.0.0.1:PORT`` with ``certs``, relaying to ``upstream_url``."""
    host, _, port = upstream_url.removeprefix("https://").rpartition(":")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(Path(certs.certificate), Path(certs.private_key))
    listener = socket.create_server(("127.0.0.1", 0))
    # accept() wakes up regularly to see the stop flag: closing a socket does not wake it.
    listener.settimeout(0.1)
    stop = threading.Event()
    thread = threading.Thread(
        target=_serve,
        args=(listener, server, (host.strip("[]"), int(port)), stop),
        daemon=True,
    )
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
