"""TLS plumbing for verifying clients: read a server's certificate, then pin exactly it."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from veil.errors import ConfigError, ServiceError
from veil.ratls.extract import load_certificate

__all__ = [
    "certificate_names",
    "fetch_peer_certificate",
    "parse_https_url",
    "pinned_ssl_context",
    "spki_der",
]

_CONNECT_TIMEOUT: Final = 10.0


def parse_https_url(url: str) -> tuple[str, int]:
    """(host, port) of an ``https://HOST[:PORT]`` URL; ``ConfigError`` for anything else."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"{url!r} is not an https://HOST[:PORT] URL")
    try:
        port = parts.port or 443
    except ValueError as e:
        raise ConfigError(f"{url!r} has an invalid port") from e
    return parts.hostname, port


def fetch_peer_certificate(host: str, port: int, *, timeout: float = _CONNECT_TIMEOUT) -> bytes:
    """The DER certificate the server presents, read without trusting it.

    Nothing is sent over this connection: the certificate is only an input to attestation
    checks (RA-TLS quote and key binding) that decide whether it is trusted.
    """
    # A bare client context: the system CA store is of no use here (and costs ~30 ms to load),
    # since the certificate is verified by attestation right after this, not by a CA.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=_sni(host)) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as e:
        raise ServiceError(f"cannot open TLS to {host}:{port}: {e}") from e
    if not der:
        raise ServiceError(f"{host}:{port} presented no certificate")
    return der


def _sni(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None  # SNI carries host names only (RFC 6066 section 3)


def certificate_names(der: bytes) -> tuple[set[str], set[str]]:
    """(DNS names, IP addresses) in the certificate's subject alternative names."""
    cert = load_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    dns = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return dns, ips


def _host_matches(host: str, dns: set[str], ips: set[str]) -> bool:
    try:
        return str(ipaddress.ip_address(host)) in ips
    except ValueError:
        pass
    host = host.lower().rstrip(".")
    if host in dns:
        return True
    _, _, rest = host.partition(".")
    return bool(rest) and f"*.{rest}" in dns


def pinned_ssl_context(der: bytes, *, host: str) -> ssl.SSLContext:
    """A client context that trusts exactly the certificate ``der`` and nothing else.

    The certificate is the only trust anchor (partial-chain verification lets a leaf be one).
    Host names are checked whenever the certificate names ``host``; when it does not (an
    RA-TLS certificate reached through an address it was not issued for), the pin alone decides,
    which is as strong: only the holder of the attested key can present this certificate.
    """
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    context = ssl.create_default_context(cadata=pem.decode("ascii"))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    dns, ips = certificate_names(der)
    context.check_hostname = _host_matches(host, dns, ips)
    return context


def spki_der(der_certificate: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a DER certificate."""
    return (
        load_certificate(der_certificate)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
