"""What a malicious operator can try, one test per attack, against real node processes."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BuiltApp, local_simulation_root, nodes
from veil.attestation.evidence import EvidenceDocument
from veil.attestation.simulated import SimulationRoot
from veil.cli.main import main
from veil.crypto.hpke import SealingPrivateKey, SealingSuite
from veil.crypto.keys import CodeKey, read_code_key
from veil.errors import InvalidDataError
from veil.host.bootstrap import BootstrapClient, ProvisioningRefusedError
from veil.host.interface import SpawnRequest
from veil.owner.seal import build_payload, seal_for_enclave
from veil.owner.verify import PackageMismatchError, verify_owner_evidence
from veil.sealing.binding import format_instance_binding
from veil.sealing.envelope import MAX_ENVELOPE_BYTES, seal
from veil.sealing.secrets import SecretsPayload


def _spawn(app: BuiltApp, name: str) -> str:
    nodes().spawn(SpawnRequest(name=name, package=app.package, backend="simulated"))
    nodes().wait(name, ("waiting",), timeout=60)
    return nodes().status(name).url


def _verify(raw: bytes, app: BuiltApp) -> Any:
    return verify_owner_evidence(
        EvidenceDocument.from_json(raw),
        app.package,
        now=datetime.now(UTC),
        allow_simulated_insecure=True,
        simulation_root_public_key=local_simulation_root(),
    )


def _owner_blob(url: str, app: BuiltApp) -> bytes:
    enclave = _verify(BootstrapClient(url).evidence(nonce=b"owner-nonce"), app)
    payload = build_payload(enclave, code_key=read_code_key(app.code_key), app_secrets={})
    return seal_for_enclave(enclave, payload)


def _state(name: str) -> str:
    return nodes().status(name).display_state


@pytest.fixture(scope="module")
def waiting(e2e_home: Path, notes_app: BuiltApp) -> Iterator[tuple[str, bytes]]:
    """A node left waiting for secrets, and its evidence (over a nonce) as served."""
    url = _spawn(notes_app, "victim")
    yield url, BootstrapClient(url).evidence(nonce=b"\x01" * 32)
    nodes().stop("victim", grace=3.0)


def test_untouched_evidence_verifies(waiting: tuple[str, bytes], notes_app: BuiltApp) -> None:
    enclave = _verify(waiting[1], notes_app)
    assert enclave.fingerprint == notes_app.fingerprint


def test_swapped_package_is_detected(
    built_apps: dict[str, BuiltApp], notes_app: BuiltApp, tmp_path: Path
) -> None:
    """The operator starts another package than the owner's: the owner's verify refuses."""
    url = _spawn(built_apps["hello-flask"], "swapped")
    try:
        raw = BootstrapClient(url).evidence()
        with pytest.raises(PackageMismatchError, match="the enclave runs another package"):
            _verify(raw, notes_app)
        evidence = tmp_path / "evidence.json"
        evidence.write_bytes(raw)
        code = main(
            [
                "verify",
                "--evidence",
                str(evidence),
                "--package",
                str(notes_app.package),
                "--allow-simulated-insecure",
            ]
        )
        assert code == 3
    finally:
        nodes().stop("swapped", grace=3.0)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _flip_b64(value: str) -> str:
    data = bytearray(base64.b64decode(value))
    data[len(data) // 2] ^= 0x01
    return _b64(bytes(data))


def _flip_pem(value: str) -> str:
    lines = value.splitlines()
    middle = len(lines) // 2
    body = bytearray(base64.b64decode(lines[middle]))
    body[len(body) // 2] ^= 0x01
    lines[middle] = _b64(bytes(body))
    return "\n".join(lines) + "\n"


def _other_sealing_key(doc: dict[str, Any]) -> None:
    suite = SealingSuite(doc["sealing"]["suite"])
    doc["sealing"]["public_key"] = _b64(
        SealingPrivateKey.generate(suite=suite).public_key().to_bytes()
    )


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = doc
        for part in parents:
            target = target[part]
        target[last] = value(target[last]) if callable(value) else value

    return mutate


#: Every field an operator could edit in evidence.json, and an edit of it. Each is either signed
#: by the enclave and compared, or structurally verified (docs/formats.md, "evidence.json").
EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "format": _set("format", "veil-evidence-v2"),
    "version": _set("version", 2),
    "tee": _set("tee", "sgx"),
    "quote": _set("quote", _flip_b64),
    "ratls_certificate": _set("ratls_certificate", _flip_pem),
    "runtime.version": _set("runtime.version", "9.9.9"),
    "runtime.digest": _set("runtime.digest", "sha256:" + "00" * 32),
    "app.name": _set("app.name", "someone-else"),
    "app.fingerprint": _set("app.fingerprint", "sha256:" + "11" * 32),
    "deployment.instance_id": _set("deployment.instance_id", "22" * 16),
    "deployment.sans": _set("deployment.sans", ["evil.example"]),
    "deployment.nonce": _set("deployment.nonce", _b64(b"\x02" * 32)),
    "deployment.nonce_signature": _set("deployment.nonce_signature", _flip_b64),
    "deployment.port": _set("deployment.port", lambda port: port + 1),
    "deployment.created_at": _set("deployment.created_at", "2020-01-01T00:00:00Z"),
    "deployment.tls_scenario": _set("deployment.tls_scenario", "operator"),
    "deployment.tls_pin": _set("deployment.tls_pin", "sha256:" + "44" * 32),
    "app.security_config_digest": _set("app.security_config_digest", "sha256:" + "33" * 32),
    "sealing.public_key": _other_sealing_key,
    "sealing.suite": _set("sealing.suite", "x25519"),
    "simulation_root_public_key": _set(
        "simulation_root_public_key", _b64(SimulationRoot.generate().public_key_bytes())
    ),
    "extra member": _set("injected", True),
}


def _edited(raw: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    doc = copy.deepcopy(json.loads(raw))
    edit(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("field", sorted(EDITS))
def test_edited_evidence_is_refused(
    field: str, waiting: tuple[str, bytes], notes_app: BuiltApp
) -> None:
    with pytest.raises(InvalidDataError):
        _verify(_edited(waiting[1], EDITS[field]), notes_app)


def test_every_evidence_field_has_an_edit(waiting: tuple[str, bytes]) -> None:
    """The table above covers every member of the served evidence.json (nested ones by path)."""
    members: set[str] = set()
    for key, value in json.loads(waiting[1]).items():
        if isinstance(value, dict):
            members.update(f"{key}.{inner}" for inner in value)
        else:
            members.add(key)
    assert members <= set(EDITS)


def test_replayed_secrets_are_refused_by_another_node(notes_app: BuiltApp) -> None:
    """Secrets sealed to node A, relayed to node B (same package): B refuses and keeps waiting."""
    url_a, url_b = _spawn(notes_app, "replay-a"), _spawn(notes_app, "replay-b")
    try:
        blob = _owner_blob(url_a, notes_app)
        with pytest.raises(ProvisioningRefusedError) as refused:
            BootstrapClient(url_b).provision(blob)
        assert refused.value.status == 403
        assert _state("replay-b") == "waiting"
        BootstrapClient(url_a).provision(blob)  # the blob itself was fine, for A
        nodes().wait("replay-a", ("serving",), timeout=60)
        with pytest.raises(ProvisioningRefusedError) as again:  # and only once
            BootstrapClient(url_a).provision(blob)
        assert again.value.status == 409
    finally:
        nodes().stop("replay-a", grace=3.0)
        nodes().stop("replay-b", grace=3.0)


def test_secrets_sealed_by_the_operator_are_refused(notes_app: BuiltApp) -> None:
    """The operator seals its own payload (it has the public key and binding, not the code
    key): the node cannot decrypt the package with it, refuses, and keeps waiting."""
    url = _spawn(notes_app, "forged")
    try:
        enclave = _verify(BootstrapClient(url).evidence(), notes_app)
        forged = SecretsPayload(
            code_key=CodeKey.generate(),
            package_fingerprint=notes_app.fingerprint,
            instance_binding=format_instance_binding(enclave.instance_binding()),
        )
        blob = seal(
            forged.to_bytes(),
            recipient=enclave.sealing_public_key,
            binding=enclave.instance_binding(),
        )
        with pytest.raises(ProvisioningRefusedError) as refused:
            BootstrapClient(url).provision(blob)
        assert refused.value.status == 403
        assert _state("forged") == "waiting"
        assert "sealed secrets rejected" in str(refused.value)
    finally:
        nodes().stop("forged", grace=3.0)


def test_malformed_and_oversized_bodies_leave_the_node_waiting(notes_app: BuiltApp) -> None:
    url = _spawn(notes_app, "fuzzed")
    try:
        genuine = _owner_blob(url, notes_app)
        bodies = {
            "empty": (b"", 400),
            "garbage": (b"not an envelope", 400),
            "truncated": (genuine[: len(genuine) // 2], 403),
            "bit flip": (genuine[:-1] + bytes([genuine[-1] ^ 1]), 403),
            "oversized": (b"V" * (MAX_ENVELOPE_BYTES + 1), 413),
        }
        for label, (body, status) in bodies.items():
            with pytest.raises(ProvisioningRefusedError) as refused:
                BootstrapClient(url).provision(body)
            assert refused.value.status == status, label
            assert _state("fuzzed") == "waiting", label
        BootstrapClient(url).provision(genuine)  # still usable by the owner
        nodes().wait("fuzzed", ("serving",), timeout=60)
    finally:
        nodes().stop("fuzzed", grace=3.0)
