"""Which served TLS key a user accepts (``check_served_key``): pure, one case per attack."""

from __future__ import annotations

import pytest

from tests.owner.conftest import NOTES, Packaged, package_app
from tests.ratls._certs import claims
from veil.client.expect import ExpectedApp
from veil.client.verify import OperatorTlsRefusedError, UnattestedTlsError, check_served_key
from veil.crypto.digest import sha256_tagged
from veil.errors import BindingError
from veil.package.encrypted import read_package_header

ATTESTED = b"attested-spki"
OPERATOR = b"operator-spki"
PROXY = b"proxy-spki"
ZERO_TRUST = claims(tls_scenario="zero-trust", tls_pin=sha256_tagged(ATTESTED))
OPERATOR_CLAIMS = claims(tls_scenario="operator", tls_pin=sha256_tagged(OPERATOR))


@pytest.fixture(scope="module")
def zero_trust_package(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    return package_app(NOTES, tmp_path_factory.mktemp("notes"))


def test_the_attested_key_is_end_to_end() -> None:
    assert check_served_key(
        ATTESTED, attested_spki_der=ATTESTED, claims=ZERO_TRUST, expected=None
    ) == ("zero-trust", True)


def test_a_proxy_key_is_refused_in_every_scenario() -> None:
    for claimed in (ZERO_TRUST, OPERATOR_CLAIMS):
        with pytest.raises(UnattestedTlsError, match="terminates TLS"):
            check_served_key(
                PROXY,
                attested_spki_der=ATTESTED,
                claims=claimed,
                expected=None,
                allow_operator_tls=True,
            )


def test_the_operator_key_of_a_zero_trust_claim_is_refused() -> None:
    """The operator's key, even if the user allows operator TLS, when the enclave does not
    claim to serve with it."""
    with pytest.raises(UnattestedTlsError):
        check_served_key(
            OPERATOR,
            attested_spki_der=ATTESTED,
            claims=ZERO_TRUST,
            expected=None,
            allow_operator_tls=True,
        )


def test_operator_tls_needs_the_users_consent() -> None:
    with pytest.raises(OperatorTlsRefusedError, match="--allow-operator-tls"):
        check_served_key(
            OPERATOR, attested_spki_der=ATTESTED, claims=OPERATOR_CLAIMS, expected=None
        )
    assert check_served_key(
        OPERATOR,
        attested_spki_der=ATTESTED,
        claims=OPERATOR_CLAIMS,
        expected=None,
        allow_operator_tls=True,
    ) == ("operator", False)


def test_a_scenario_other_than_the_expected_packages_is_refused(
    zero_trust_package: Packaged,
) -> None:
    header = read_package_header(zero_trust_package.package)
    expected = ExpectedApp(
        fingerprint=header.fingerprint, security_config_json=header.security_config_json
    )
    with pytest.raises(BindingError, match=r"tls\.scenario = .zero-trust."):
        check_served_key(
            OPERATOR,
            attested_spki_der=ATTESTED,
            claims=OPERATOR_CLAIMS,
            expected=expected,
            allow_operator_tls=True,
        )
