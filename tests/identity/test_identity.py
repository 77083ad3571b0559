from __future__ import annotations

import contextlib
import hashlib
import tomllib
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st

import veil
from veil.attestation.result import Tee
from veil.crypto.digest import sha256_tagged
from veil.enclave.gramine import manifest_template
from veil.errors import ConfigError, FormatError, OperationError
from veil.identity.app import (
    expected_measurement,
    extend_rtmr,
    gramine_manifest_inputs,
    parse_app_identity_file,
    render_app_identity_file,
    security_config_digest,
    simulated_measurement,
    snp_host_data,
    tdx_rtmr_event,
)
from veil.identity.runtime import RuntimeIdentity, digest_runtime_files, runtime_identity

RUNTIME = RuntimeIdentity(version="0.1.0", digest=sha256_tagged(b"runtime files"))
FINGERPRINT = sha256_tagged(b"app")
CONFIG_DIGEST = bytes(range(32))


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def test_runtime_digest_ignores_listing_order() -> None:
    files = [("a.py", b"1"), ("pkg/b.py", b"2")]
    assert digest_runtime_files(files) == digest_runtime_files(list(reversed(files)))


def test_runtime_digest_depends_on_content_and_path() -> None:
    base = digest_runtime_files([("a.py", b"1")])
    assert digest_runtime_files([("a.py", b"2")]) != base
    assert digest_runtime_files([("b.py", b"1")]) != base


def test_runtime_digest_is_unambiguous() -> None:
    assert digest_runtime_files([("ab", b"c")]) != digest_runtime_files([("a", b"bc")])
    assert digest_runtime_files([("a", b""), ("b", b"")]) != digest_runtime_files([("a", b"b")])


def test_runtime_digest_refuses_duplicate_paths() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        digest_runtime_files([("a.py", b"1"), ("a.py", b"2")])


def test_runtime_identity_of_a_tree_ignores_bytecode(tmp_path: Path) -> None:
    root = _tree(tmp_path / "veil", {"__init__.py": b"x", "sub/mod.py": b"y"})
    before = runtime_identity(root, version="1.2.3")
    _tree(root, {"__pycache__/mod.cpython-311.pyc": b"junk", "sub/old.pyc": b"junk"})
    assert runtime_identity(root, version="1.2.3") == before
    assert before.version == "1.2.3"
    assert before.digest == digest_runtime_files([("__init__.py", b"x"), ("sub/mod.py", b"y")])


def test_runtime_identity_changes_with_a_source_file(tmp_path: Path) -> None:
    root = _tree(tmp_path / "veil", {"__init__.py": b"x"})
    before = runtime_identity(root)
    (root / "__init__.py").write_bytes(b"x = 'patched'")
    assert runtime_identity(root) != before


def test_runtime_identity_refuses_symlinks(tmp_path: Path) -> None:
    root = _tree(tmp_path / "veil", {"__init__.py": b"x"})
    (root / "link.py").symlink_to(tmp_path / "elsewhere.py")
    with pytest.raises(OperationError, match="symbolic link"):
        runtime_identity(root)


def test_runtime_identity_of_an_empty_tree(tmp_path: Path) -> None:
    (tmp_path / "veil").mkdir()
    with pytest.raises(OperationError, match="no runtime files"):
        runtime_identity(tmp_path / "veil")


def test_installed_runtime_identity() -> None:
    identity = runtime_identity()
    assert identity.version == veil.__version__
    assert identity.digest.startswith("sha256:")


@pytest.mark.parametrize(
    ("version", "digest"),
    [
        ("", sha256_tagged(b"x")),
        ("1\n2", sha256_tagged(b"x")),
        ("1.0", "sha256:00"),
        ("1.0", "md5:x"),
    ],
)
def test_runtime_identity_model_refuses_bad_values(version: str, digest: str) -> None:
    with pytest.raises(FormatError):
        RuntimeIdentity(version=version, digest=digest)


def test_runtime_identity_json_round_trip() -> None:
    assert RuntimeIdentity.from_json(RUNTIME.to_json()) == RUNTIME
    with pytest.raises(FormatError):
        RuntimeIdentity.from_json({"version": 1, "digest": RUNTIME.digest})


def test_identity_digests_are_domain_separated() -> None:
    simulated = simulated_measurement(RUNTIME, FINGERPRINT, CONFIG_DIGEST)
    event = tdx_rtmr_event(RUNTIME, FINGERPRINT, CONFIG_DIGEST)
    assert len(simulated) == len(event) == 48
    assert simulated != event
    assert len(snp_host_data(RUNTIME, FINGERPRINT, CONFIG_DIGEST)) == 32


@pytest.mark.parametrize(
    "changed",
    [
        {"runtime": RuntimeIdentity(version="0.1.1", digest=RUNTIME.digest)},
        {"runtime": RuntimeIdentity(version="0.1.0", digest=sha256_tagged(b"other"))},
        {"fingerprint": sha256_tagged(b"other app")},
        {"config": bytes(32)},
    ],
)
def test_measurement_covers_runtime_and_app(changed: dict[str, object]) -> None:
    runtime = changed.get("runtime", RUNTIME)
    fingerprint = changed.get("fingerprint", FINGERPRINT)
    config = changed.get("config", CONFIG_DIGEST)
    assert isinstance(runtime, RuntimeIdentity)
    assert isinstance(fingerprint, str)
    assert isinstance(config, bytes)
    base = simulated_measurement(RUNTIME, FINGERPRINT, CONFIG_DIGEST)
    assert simulated_measurement(runtime, fingerprint, config) != base
    assert tdx_rtmr_event(runtime, fingerprint, config) != tdx_rtmr_event(
        RUNTIME, FINGERPRINT, CONFIG_DIGEST
    )


def test_bad_fingerprint_or_config_digest() -> None:
    with pytest.raises(FormatError):
        simulated_measurement(RUNTIME, "sha256:XYZ", CONFIG_DIGEST)
    with pytest.raises(FormatError, match="32 bytes"):
        simulated_measurement(RUNTIME, FINGERPRINT, bytes(31))


def test_security_config_digest_is_sha256_of_the_header_json() -> None:
    assert security_config_digest(b'{"a":1}') == hashlib.sha256(b'{"a":1}').digest()


def test_extend_rtmr_is_sha384_of_concatenation() -> None:
    assert (
        extend_rtmr(bytes(48), bytes(range(48)))
        == hashlib.sha384(bytes(48) + bytes(range(48))).digest()
    )
    with pytest.raises(ValueError, match="48 bytes"):
        extend_rtmr(bytes(32), bytes(48))


def test_expected_measurement_per_backend() -> None:
    kwargs = {
        "runtime": RUNTIME,
        "fingerprint": FINGERPRINT,
        "security_config_digest": CONFIG_DIGEST,
    }
    simulated = expected_measurement(backend="simulated", **kwargs)  # type: ignore[arg-type]
    assert simulated.tee == Tee.SIMULATED
    assert simulated.values == {
        "measurement": simulated_measurement(RUNTIME, FINGERPRINT, CONFIG_DIGEST).hex()
    }
    tdx = expected_measurement(backend="configfs-tsm", **kwargs)  # type: ignore[arg-type]
    event = tdx_rtmr_event(RUNTIME, FINGERPRINT, CONFIG_DIGEST)
    assert tdx.values == {"rtmr3": extend_rtmr(bytes(48), event).hex()}
    start = bytes(range(48))
    moved = expected_measurement(backend="configfs-tsm", rtmr_initial=start, **kwargs)  # type: ignore[arg-type]
    assert moved.values["rtmr3"] == extend_rtmr(start, event).hex()
    snp = expected_measurement(backend="configfs-tsm", tee=Tee.SEV_SNP, **kwargs)  # type: ignore[arg-type]
    assert snp.values == {"host_data": snp_host_data(RUNTIME, FINGERPRINT, CONFIG_DIGEST).hex()}
    with pytest.raises(ConfigError, match="gramine-sgx-sign"):
        expected_measurement(backend="gramine-sgx", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown backend"):
        expected_measurement(backend="sgx-sdk", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        expected_measurement(backend="configfs-tsm", tee=Tee.SGX, **kwargs)  # type: ignore[arg-type]


def test_app_identity_file_round_trip() -> None:
    data = render_app_identity_file(FINGERPRINT, CONFIG_DIGEST)
    assert parse_app_identity_file(data) == (FINGERPRINT, CONFIG_DIGEST)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"format":"veil-app-identity/v2"}',
        render_app_identity_file(FINGERPRINT, CONFIG_DIGEST).rstrip(b"\n"),
        render_app_identity_file(FINGERPRINT, CONFIG_DIGEST).upper(),
        b" " * 5000,
    ],
)
def test_app_identity_file_refuses_non_canonical_input(data: bytes) -> None:
    with pytest.raises(FormatError):
        parse_app_identity_file(data)


@given(st.binary(max_size=300))
def test_app_identity_parser_raises_only_format_error(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        parse_app_identity_file(data)


def test_gramine_inputs_pin_the_identity_file() -> None:
    inputs = gramine_manifest_inputs(
        runtime=RUNTIME, fingerprint=FINGERPRINT, security_config_digest=CONFIG_DIGEST
    )
    identity_file = render_app_identity_file(FINGERPRINT, CONFIG_DIGEST)
    assert inputs["veil_app_identity_sha256"] == hashlib.sha256(identity_file).hexdigest()
    assert inputs["veil_app_fingerprint"] == FINGERPRINT
    assert inputs["veil_runtime_digest"] == RUNTIME.digest


def _render_manifest(inputs: dict[str, str]) -> dict[str, object]:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701
    gramine = SimpleNamespace(libos="/usr/lib/gramine/libsysdb.so", runtimedir=lambda: "/rt")
    python = SimpleNamespace(stdlib="/usr/lib/python3.11")
    text = environment.from_string(manifest_template()).render(
        gramine=gramine,
        python=python,
        entrypoint="/usr/bin/python3.11",
        arch_libdir="/lib/x86_64-linux-gnu",
        veil_site_packages="/opt/veil/site-packages",
        **inputs,
    )
    return tomllib.loads(text)


def test_manifest_template_measures_the_app_identity() -> None:
    inputs = gramine_manifest_inputs(
        runtime=RUNTIME, fingerprint=FINGERPRINT, security_config_digest=CONFIG_DIGEST
    )
    manifest = _render_manifest(inputs)
    loader = manifest["loader"]
    sgx = manifest["sgx"]
    assert isinstance(loader, dict)
    assert isinstance(sgx, dict)
    assert loader["env"]["VEIL_APP_FINGERPRINT"] == FINGERPRINT
    assert loader["env"]["VEIL_BACKEND"] == "gramine-sgx"
    assert {"uri": "file:app-identity.json", "sha256": inputs["veil_app_identity_sha256"]} in sgx[
        "trusted_files"
    ]
    assert sgx["remote_attestation"] == "dcap"
    assert sgx["debug"] is False


def test_manifest_template_has_no_insecure_options() -> None:
    inputs = gramine_manifest_inputs(
        runtime=RUNTIME, fingerprint=FINGERPRINT, security_config_digest=CONFIG_DIGEST
    )
    manifest = _render_manifest(inputs)

    def keys(node: object, prefix: str = "") -> list[str]:
        if isinstance(node, dict):
            return [
                k
                for key, value in node.items()
                for k in [prefix + key, *keys(value, prefix + key + ".")]
            ]
        return []

    assert not [key for key in keys(manifest) if "insecure__" in key]
    assert "file:app-identity.json" not in manifest["sgx"]["allowed_files"]  # type: ignore[index]
