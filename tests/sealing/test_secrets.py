from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto.digest import sha256_tagged
from veil.crypto.hpke import SealingPrivateKey, SealingSuite
from veil.crypto.keys import CodeKey
from veil.errors import FormatError
from veil.sealing.envelope import seal, unseal
from veil.sealing.secrets import MAX_APP_SECRETS, MAX_SECRETS_BYTES, SecretsPayload

CODE_KEY = CodeKey(bytes(range(32)))
CODE_KEY_B64 = base64.b64encode(CODE_KEY.secret_bytes()).decode()
FINGERPRINT = sha256_tagged(b"package")
NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def _tls_pair() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.example")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


TLS_KEY, TLS_CHAIN = _tls_pair()
OTHER_TLS_KEY, _ = _tls_pair()


def _payload(**changes: object) -> SecretsPayload:
    fields: dict[str, object] = {
        "code_key": CODE_KEY,
        "package_fingerprint": FINGERPRINT,
        "instance_binding": "instance:1",
        "app_secrets": {"DATABASE_URL": "postgres://u:hunter2@db/app"},
        "tls_private_key_pem": TLS_KEY,
        "tls_certificate_chain_pem": TLS_CHAIN,
        "issued_at": NOW,
    }
    fields.update(changes)
    return SecretsPayload(**fields)  # type: ignore[arg-type]


def _doc(**changes: object) -> bytes:
    doc = json.loads(_payload().to_bytes())
    for key, value in changes.items():
        if value is _DELETE:
            del doc[key]
        else:
            doc[key] = value
    return json.dumps(doc).encode()


_DELETE = object()


def test_round_trip_full_and_minimal() -> None:
    full = _payload()
    assert SecretsPayload.from_bytes(full.to_bytes()) == full
    minimal = SecretsPayload(
        code_key=CODE_KEY, package_fingerprint=FINGERPRINT, instance_binding="i"
    )
    assert SecretsPayload.from_bytes(minimal.to_bytes()) == minimal
    assert json.loads(minimal.to_bytes()) == {
        "version": 1,
        "code_key": CODE_KEY_B64,
        "app_secrets": {},
        "package_fingerprint": FINGERPRINT,
        "instance_binding": "i",
    }


def test_canonical_json() -> None:
    data = _payload().to_bytes()
    doc = json.loads(data)
    assert data == json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert doc["issued_at"] == "2025-03-04T05:06:07Z"


def test_issued_at_is_normalized_to_utc_seconds() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=2))).replace(microsecond=999)
    assert _payload(issued_at=local).issued_at == NOW
    with pytest.raises(FormatError, match="timezone-aware"):
        _payload(issued_at=datetime(2025, 1, 1))


def test_repr_shows_no_secret() -> None:
    payload = _payload()
    for rendered in (repr(payload), str(payload)):
        assert "hunter2" not in rendered
        assert CODE_KEY_B64 not in rendered
        assert "PRIVATE KEY" not in rendered
        assert "DATABASE_URL" in rendered
        assert CODE_KEY.key_id in rendered


def test_app_secrets_are_immutable() -> None:
    payload = _payload()
    with pytest.raises(TypeError):
        payload.app_secrets["X"] = "y"  # type: ignore[index]


def test_sealed_round_trip_through_envelope() -> None:
    key = SealingPrivateKey.generate(suite=SealingSuite.X25519)
    payload = _payload()
    blob = seal(payload.to_bytes(), recipient=key.public_key(), binding=b"instance:1")
    opened = SecretsPayload.from_bytes(unseal(blob, recipient=key, binding=b"instance:1"))
    assert opened == payload
    assert opened.code_key == CODE_KEY


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\xff", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"version": 1, "version": 1}', "duplicate key"),
        (b'{"version": NaN}', "NaN is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (_doc(extra=1), "unknown keys: \\['extra'\\]"),
        (_doc(code_key=_DELETE), "missing keys: \\['code_key'\\]"),
        (_doc(version=2), "unsupported secrets payload version 2"),
        (_doc(version=True), "unsupported secrets payload version True"),
        (_doc(version="1"), "unsupported secrets payload version"),
        (_doc(code_key=CODE_KEY_B64[:-4]), "code_key must decode to 32 bytes"),
        (_doc(code_key=7), "code_key must be a string"),
        (_doc(code_key="!!"), "code_key is not valid base64"),
        (_doc(package_fingerprint="sha256:xyz"), "64 hex digits"),
        (_doc(package_fingerprint="md5:" + "0" * 32), "must start with"),
        (_doc(instance_binding=""), "instance_binding must be a non-empty"),
        (_doc(instance_binding="x" * 1025), "instance_binding must be a non-empty"),
        (_doc(instance_binding=5), "instance_binding must be a string"),
        (_doc(app_secrets=[]), "app_secrets must be a JSON object"),
        (_doc(app_secrets={"BAD-NAME": "v"}), "app secret name 'BAD-NAME'"),
        (_doc(app_secrets={"1X": "v"}), "app secret name"),
        (_doc(app_secrets={"X": 1}), "app secret X must be a string"),
        (_doc(app_secrets={"X": "a\x00b"}), "without NUL"),
        (_doc(app_secrets={"X": "v" * (64 * 1024 + 1)}), "at most 65536 bytes"),
        (
            _doc(app_secrets={f"K{i}": "" for i in range(MAX_APP_SECRETS + 1)}),
            "at most 1024 app secrets",
        ),
        (_doc(tls_certificate_chain_pem=_DELETE), "must be given together"),
        (_doc(tls_private_key_pem="garbage"), "not an unencrypted PEM private key"),
        (_doc(tls_private_key_pem="é"), "must be ASCII PEM"),
        (_doc(tls_certificate_chain_pem="garbage"), "not a PEM certificate list"),
        (
            _doc(tls_private_key_pem=OTHER_TLS_KEY.decode()),
            "TLS certificate does not match the TLS private key",
        ),
        (_doc(issued_at="2025-03-04 05:06:07"), "issued_at must be"),
        (_doc(issued_at="2025-13-04T05:06:07Z"), "not a valid date"),
        (_doc(issued_at=0), "issued_at must be a string"),
    ],
)
def test_malformed_payload_names_the_problem(data: bytes, problem: str) -> None:
    with pytest.raises(FormatError, match=problem) as exc:
        SecretsPayload.from_bytes(data)
    assert "hunter2" not in str(exc.value)
    assert CODE_KEY_B64 not in str(exc.value)


def test_oversized_payload() -> None:
    with pytest.raises(FormatError, match="larger than"):
        SecretsPayload.from_bytes(b" " * (MAX_SECRETS_BYTES + 1))
    many = {f"K{i}": "v" * 60_000 for i in range(20)}
    with pytest.raises(FormatError, match="larger than"):
        _payload(app_secrets=many).to_bytes()


@given(st.binary(max_size=500))
def test_arbitrary_bytes_raise_only_format_error(data: bytes) -> None:
    with pytest.raises(FormatError):
        SecretsPayload.from_bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "version",
                "code_key",
                "app_secrets",
                "package_fingerprint",
                "instance_binding",
                "issued_at",
                "tls_private_key_pem",
                "x",
            ]
        ),
        json_values,
    )
)
def test_arbitrary_json_objects_raise_only_format_error(doc: dict[str, object]) -> None:
    with pytest.raises(FormatError):
        SecretsPayload.from_bytes(json.dumps(doc).encode())


def test_constructor_misuse_raises_type_error() -> None:
    with pytest.raises(TypeError, match="CodeKey"):
        _payload(code_key=bytes(32))
    with pytest.raises(TypeError, match="mapping"):
        _payload(app_secrets=[("A", "b")])
