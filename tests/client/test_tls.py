from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.e2e._certs import CertFiles, self_signed
from veil.client._tls import (
    certificate_names,
    fetch_peer_certificate,
    parse_https_url,
    pinned_ssl_context,
    spki_der,
)
from veil.client.expect import ExpectedApp
from veil.errors import ConfigError, ServiceError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://127.0.0.1:8443", ("127.0.0.1", 8443)),
        ("https://app.example/", ("app.example", 443)),
        ("app.example:9000", ("app.example", 9000)),
        ("https://[::1]:8443", ("::1", 8443)),
    ],
)
def test_parse_https_url(url: str, expected: tuple[str, int]) -> None:
    assert parse_https_url(url) == expected


@pytest.mark.parametrize("url", ["http://x:1", "ftp://x", "https://", "https://x:99999"])
def test_parse_https_url_refuses(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_https_url(url)


def test_bad_expected_fingerprint_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid fingerprint"):
        ExpectedApp(fingerprint="md5:abc")


def _der(files: CertFiles) -> bytes:
    return x509.load_pem_x509_certificate(files.certificate.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, CertFiles]]:
    """A TLS server that answers each handshake with a fixed certificate, then closes."""
    files = self_signed(tmp_path / "srv", ["localhost", "127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.certificate, files.private_key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], files
    stop.set()
    listener.close()
    thread.join(timeout=5)


def _handshake(port: int, context: ssl.SSLContext, host: str) -> None:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host),
    ):
        pass


def test_fetch_then_pin_exactly_that_certificate(
    server: tuple[int, CertFiles], tmp_path: Path
) -> None:
    port, files = server
    der = fetch_peer_certificate("127.0.0.1", port)
    assert der == _der(files)
    assert spki_der(der) == x509.load_der_x509_certificate(der).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert certificate_names(der) == ({"localhost"}, {"127.0.0.1"})
    pinned = pinned_ssl_context(der, host="localhost")
    assert pinned.check_hostname
    _handshake(port, pinned, "localhost")
    other = _der(self_signed(tmp_path / "other", ["localhost"]))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(port, pinned_ssl_context(other, host="localhost"), "localhost")


def test_pin_without_a_matching_name_relies_on_the_pin(server: tuple[int, CertFiles]) -> None:
    port, files = server
    context = pinned_ssl_context(_der(files), host="elsewhere.example")
    assert not context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    _handshake(port, context, "elsewhere.example")


def test_unreachable_server_is_a_service_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServiceError, match="cannot open TLS"):
        fetch_peer_certificate("127.0.0.1", port, timeout=2)
