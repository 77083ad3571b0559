"""A user's check of a running app: is the server an attested enclave running the expected code?"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from veil.attestation.evidence import MAX_EVIDENCE_BYTES, EvidenceDocument
from veil.attestation.result import VerifiedQuote
from veil.client._tls import fetch_peer_certificate, parse_https_url, pinned_ssl_context, spki_der
from veil.client.expect import ExpectedApp, build_policy, check_claims, compared_registers
from veil.crypto.digest import sha256_tagged
from veil.errors import BindingError, FormatError, ServiceError
from veil.package.security import SecurityConfig
from veil.ratls.errors import NoEvidenceError
from veil.ratls.evidence import VerifiedEvidence, document_claims, verify_evidence_document
from veil.ratls.extension import RatlsClaims
from veil.ratls.extract import read_ratls_evidence
from veil.ratls.verify import verify_ratls_evidence

__all__ = [
    "NONCE_BYTES",
    "OperatorTlsRefusedError",
    "Scenario",
    "ServedEvidence",
    "ServerVerification",
    "UnattestedTlsError",
    "check_served_key",
    "fetch_evidence_document",
    "verify_served_evidence",
    "verify_server",
]

_log = logging.getLogger(__name__)

#: Size of the fresh nonce a verifier sends, in bytes: 256 bits never repeat by chance.
NONCE_BYTES: Final = 32
_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)

Scenario = Literal["zero-trust", "owner-certificate", "operator"]


class UnattestedTlsError(BindingError):
    """The server's TLS key is not the one the attested enclave serves the app with (a proxy)."""


class OperatorTlsRefusedError(BindingError):
    """The app is served with the operator's certificate and the verifier did not accept it."""


def _scenario(claimed: str) -> Scenario:
    if claimed == "zero-trust":
        return "zero-trust"
    if claimed == "owner-certificate":
        return "owner-certificate"
    if claimed == "operator":
        return "operator"
    raise BindingError(f"the enclave claims an unknown TLS scenario {claimed!r}")


def check_served_key(
    served_spki_der: bytes,
    *,
    attested_spki_der: bytes,
    claims: RatlsClaims,
    expected: ExpectedApp | None,
    allow_operator_tls: bool = False,
) -> tuple[Scenario, bool]:
    """(scenario, end to end) of a server presenting ``served_spki_der``, whose verified
    evidence is for ``attested_spki_der`` with ``claims``; pure.

    1. The served key is the attested one (zero trust; the owner's certificate key once the
       enclave bound it; any node before its app serves), or, in the operator scenario, the
       one the ``tls_pin`` claim names. Any other key is someone else's: a TLS-terminating
       proxy, refused whatever the options.
    2. The claimed scenario is the expected package's ``tls.scenario`` (when the verifier has
       the package's security config).
    3. The operator scenario only with ``allow_operator_tls``: the operator can read and change
       the traffic.
    """
    scenario = _scenario(claims.tls_scenario)
    served_pin = sha256_tagged(served_spki_der)
    if hmac.compare_digest(served_spki_der, attested_spki_der):
        end_to_end = True
    elif scenario == "operator" and hmac.compare_digest(
        served_pin.encode(), claims.tls_pin.encode()
    ):
        end_to_end = False
    else:
        raise UnattestedTlsError(
            f"the server's TLS key ({served_pin}) is not the one the enclave serves the app with "
            f"({scenario} scenario): something between you and the enclave terminates TLS"
        )
    if expected is not None and expected.security_config_json is not None:
        package_scenario = SecurityConfig.from_json(expected.security_config_json).tls_scenario
        if scenario != package_scenario:
            raise BindingError(
                f"the enclave serves the app in the {scenario} TLS scenario, but the expected "
                f"package's veil.toml has tls.scenario = {package_scenario!r}"
            )
    if scenario == "operator" and not allow_operator_tls:
        raise OperatorTlsRefusedError(
            "the app is served with the operator's TLS certificate (its veil.toml allows it): "
            "the operator can read and change the traffic; pass --allow-operator-tls "
            "(allow_operator_tls=True) to accept that, for test data only"
        )
    return scenario, end_to_end


@dataclass(frozen=True, kw_only=True)
class ServerVerification:
    """What checking a server established. ``end_to_end`` and ``code_checked`` say how much."""

    url: str
    scenario: Scenario
    #: The certificate the server presented (DER): what a client pins.
    certificate_der: bytes
    #: The attested (RA-TLS) certificate that verified, PEM.
    attested_certificate_pem: bytes
    verified_quote: VerifiedQuote
    app_name: str | None
    fingerprint: str | None
    instance_id: str | None
    #: True when the TLS key users talk to is the one the enclave attested.
    end_to_end: bool
    #: True when the app was compared with an expected fingerprint or measurement.
    code_checked: bool
    #: True when the quote's measurement was recomputed for (runtime, app) and matched.
    measurement_checked: bool
    #: True when the enclave answered over a fresh nonce (not a replayed quote).
    fresh: bool
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: Every register the policy compared, with the value the quote carries.
    compared: Mapping[str, str] = field(default_factory=dict)

    @property
    def certificate_pem(self) -> bytes:
        certificate = x509.load_der_x509_certificate(self.certificate_der)
        return certificate.public_bytes(serialization.Encoding.PEM)

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "verified": True,
            "scenario": self.scenario,
            "end_to_end": self.end_to_end,
            "code_checked": self.code_checked,
            "measurement_checked": self.measurement_checked,
            "fresh": self.fresh,
            "app_name": self.app_name,
            "fingerprint": self.fingerprint,
            "instance_id": self.instance_id,
            "quote": self.verified_quote.to_json(),
            "compared": dict(self.compared),
            "notes": list(self.notes),
        }


def fetch_evidence_document(
    url: str, certificate_der: bytes, *, nonce: bytes | None, timeout: httpx.Timeout = _TIMEOUT
) -> EvidenceDocument | None:
    """GET ``/_veil/evidence`` from the server that presented ``certificate_der`` (pinned).

    ``None`` when the server has no such endpoint (an enclave veil did not start).
    """
    host, _ = parse_https_url(url)
    params = {"nonce": nonce.hex()} if nonce is not None else {}
    try:
        with (
            httpx.Client(
                verify=pinned_ssl_context(certificate_der, host=host), timeout=timeout
            ) as c,
            c.stream("GET", f"{url.rstrip('/')}/_veil/evidence", params=params) as response,
        ):
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise ServiceError(f"{url} answered {response.status_code} for its evidence")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_EVIDENCE_BYTES:
                    raise FormatError(
                        f"{url} sent more than {MAX_EVIDENCE_BYTES} bytes of evidence"
                    )
    except httpx.HTTPError as e:
        raise ServiceError(f"cannot fetch the evidence of {url}: {e}") from e
    return EvidenceDocument.from_json(bytes(body))


@dataclass(frozen=True, kw_only=True)
class ServedEvidence:
    """Evidence a server sent over the user's nonce, verified."""

    evidence: VerifiedEvidence
    #: True when the quote's measurement was recomputed for (runtime, app) and matched.
    measurement_checked: bool
    #: Every register the policy compared, with the value the quote carries.
    compared: Mapping[str, str] = field(default_factory=dict)


def verify_served_evidence(
    document: EvidenceDocument,
    *,
    nonce: bytes,
    expected: ExpectedApp | None,
    allow_simulated_insecure: bool = False,
    simulation_root_public_key: bytes | None = None,
    now: datetime,
) -> ServedEvidence:
    """Verify the evidence a server sent over ``nonce``, as a user.

    Pure (no network): :func:`verify_server` fetches, this judges. The expected measurement
    is recomputed from (trusted runtime, expected fingerprint, security-config digest), the
    digest being the enclave's signed claim when the user has only a fingerprint.
    """
    claims = document_claims(document)
    check_claims(claims, expected)
    measurement = (
        expected.expected_measurement_for(document.tee, claims=claims) if expected else None
    )
    policy = build_policy(
        expected, document.tee, claims=claims, allow_simulated_insecure=allow_simulated_insecure
    )
    verified = verify_evidence_document(
        document,
        policy=policy,
        now=now,
        simulation_root_public_key=simulation_root_public_key,
        expected_nonce=nonce,
    )
    return ServedEvidence(
        evidence=verified,
        measurement_checked=measurement is not None,
        compared=compared_registers(expected, verified.verified_quote, claims=claims),
    )


def verify_server(
    url: str,
    *,
    expected: ExpectedApp | None = None,
    allow_simulated_insecure: bool = False,
    simulation_root_public_key: bytes | None = None,
    now: datetime | None = None,
    allow_operator_tls: bool = False,
) -> ServerVerification:
    """Connect to ``url``, and verify that an attested enclave is behind it.

    1. Read the server's certificate (not trusted yet).
    2. Ask the server for evidence over a fresh nonce; verify the quote, the collateral, the
       policy (simulated and debug refused unless allowed) and the expected app and runtime.
    3. Compare the served key with the attested one (:func:`check_served_key`): the RA-TLS
       key (zero trust), the owner's certificate key bound by the enclave (owner certificate),
       or the operator's key the enclave claims to serve with (operator scenario, refused
       unless ``allow_operator_tls``). Any other key is a TLS-terminating proxy: refused.
    An enclave without the evidence endpoint is verified from its RA-TLS certificate alone.
    """
    now = now or datetime.now(UTC)
    url = url.rstrip("/")
    host, port = parse_https_url(url)
    served = fetch_peer_certificate(host, port)
    served_spki = spki_der(served)
    try:
        served_evidence = read_ratls_evidence(served)
    except NoEvidenceError:
        served_evidence = None
    nonce = secrets.token_bytes(NONCE_BYTES)
    document = fetch_evidence_document(url, served, nonce=nonce)
    notes: list[str] = []
    if document is None:
        if served_evidence is None:
            raise BindingError(
                f"{url} presents no RA-TLS certificate and serves no evidence: nothing attests it"
            )
        tee = served_evidence.quote_info.tee
        check_claims(served_evidence.claims, expected)
        measurement = (
            expected.expected_measurement_for(tee, claims=served_evidence.claims)
            if expected
            else None
        )
        policy = build_policy(
            expected,
            tee,
            claims=served_evidence.claims,
            allow_simulated_insecure=allow_simulated_insecure,
        )
        verified = verify_ratls_evidence(
            served_evidence,
            policy=policy,
            now=now,
            simulation_root_public_key=simulation_root_public_key,
        )
        notes.append("no evidence endpoint: the certificate's quote was checked, without a nonce")
        claims = verified.claims
        return _result(
            url=url,
            scenario="zero-trust",
            served=served,
            attested_pem=verified.certificate.public_bytes(serialization.Encoding.PEM),
            quote=verified.verified_quote,
            claims=claims,
            app_name=None,
            end_to_end=True,
            expected=expected,
            measurement_checked=measurement is not None,
            compared=compared_registers(
                expected, verified.verified_quote, claims=served_evidence.claims
            ),
            fresh=False,
            notes=notes,
        )
    served_document = verify_served_evidence(
        document,
        nonce=nonce,
        expected=expected,
        allow_simulated_insecure=allow_simulated_insecure,
        simulation_root_public_key=simulation_root_public_key,
        now=now,
    )
    attested = served_document.evidence.certificate
    scenario, end_to_end = check_served_key(
        served_spki,
        attested_spki_der=attested.public_key_der,
        claims=document_claims(served_document.evidence.document),
        expected=expected,
        allow_operator_tls=allow_operator_tls,
    )
    if not end_to_end:
        notes.append(
            "the server's TLS key is not the one the enclave attests: whoever terminates TLS "
            "(the operator) can read and change the traffic"
        )
    return _result(
        url=url,
        scenario=scenario,
        served=served,
        attested_pem=document.ratls_certificate,
        quote=attested.verified_quote,
        claims=attested.claims,
        app_name=document.app.name,
        end_to_end=end_to_end,
        expected=expected,
        measurement_checked=served_document.measurement_checked,
        compared=served_document.compared,
        fresh=True,
        notes=notes,
    )


def _result(
    *,
    url: str,
    scenario: Scenario,
    served: bytes,
    attested_pem: bytes,
    quote: VerifiedQuote,
    claims: RatlsClaims | None,
    app_name: str | None,
    end_to_end: bool,
    expected: ExpectedApp | None,
    measurement_checked: bool,
    compared: Mapping[str, str],
    fresh: bool,
    notes: list[str],
) -> ServerVerification:
    code_checked = expected is not None and expected.checks_code
    if not code_checked:
        notes.append(
            "no expected fingerprint was given: the enclave is genuine, but WHICH code it runs "
            "was not checked"
        )
    elif not measurement_checked:
        notes.append(
            "only the fingerprint the enclave claims was compared: the quote's measurement could "
            "not be recomputed here (an SGX MRENCLAVE needs the value from `veil measure`)"
        )
    if quote.tee.value == "simulated":
        notes.append("SIMULATED enclave: no TEE protects it; the operator can read everything")
    return ServerVerification(
        url=url,
        scenario=scenario,
        certificate_der=served,
        attested_certificate_pem=attested_pem,
        verified_quote=quote,
        app_name=app_name,
        fingerprint=claims.app_fingerprint if claims else None,
        instance_id=claims.instance_id if claims else None,
        end_to_end=end_to_end,
        code_checked=code_checked,
        measurement_checked=measurement_checked,
        fresh=fresh,
        compared=compared,
        notes=tuple(notes),
    )
