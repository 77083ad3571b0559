"""The real node as a subprocess on loopback: simulated backend, real package, real TLS."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.enclave._node_helpers import (
    SECRET_MARKER,
    SOURCE_MARKER,
    NodeProcess,
    Package,
    binding_for,
    ca_context,
    files_containing,
    leaf_spki,
    make_package,
    sealed_secrets,
    wait_until,
    write_app,
    write_node_dir,
)
from veil.attestation.evidence import EvidenceDocument
from veil.attestation.policy import SimulatedMeasurement, default_policy
from veil.crypto.digest import sha256_tagged
from veil.crypto.keys import CodeKey
from veil.enclave.bootstrap import MAX_PROVISION_BYTES
from veil.enclave.runtime_dir import runtime_base, runtime_dir_prefix
from veil.identity.app import expected_measurement, security_config_digest
from veil.identity.runtime import runtime_identity
from veil.package.encrypted import read_package_header
from veil.ratls.evidence import verify_evidence_document
from veil.ratls.extract import read_ratls_evidence
from veil.sealing.binding import format_instance_binding
from veil.sealing.envelope import seal
from veil.sealing.secrets import SecretsPayload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("node-e2e")


@pytest.fixture(scope="module")
def simulation_dir(work: Path) -> Path:
    return work / "simulation"


@pytest.fixture(scope="module")
def package(work: Path) -> Package:
    return make_package(write_app(work / "app"), work / "app.veil")


@pytest.fixture(scope="module")
def restartable_package(work: Path) -> Package:
    app = write_app(work / "app-restart", name="restartable", allow_restart=True)
    return make_package(app, work / "restartable.veil")


def start(
    work: Path, name: str, package: Package, simulation_dir: Path, **kw: object
) -> NodeProcess:
    node_dir = work / name
    write_node_dir(node_dir, package.path, simulation_dir=simulation_dir, **kw)  # type: ignore[arg-type]
    node = NodeProcess(node_dir)
    node.wait_for("waiting", "serving")
    return node


@pytest.fixture(scope="module")
def waiting_node(work: Path, package: Package, simulation_dir: Path) -> Iterator[NodeProcess]:
    node = start(work, "waiting", package, simulation_dir)
    yield node
    node.stop()


@pytest.fixture(scope="module")
def other_node(work: Path, package: Package, simulation_dir: Path) -> Iterator[NodeProcess]:
    node = start(work, "other", package, simulation_dir)
    yield node
    node.stop()


def post_envelope(node: NodeProcess, envelope: bytes) -> httpx.Response:
    return httpx.post(
        f"{node.url}/_veil/provision",
        content=envelope,
        headers={"content-type": "application/octet-stream"},
        verify=ca_context(node.certificate_pem()),
        timeout=30,
    )


def assert_still_waiting(node: NodeProcess) -> None:
    state = node.state()
    assert state is not None
    assert state["state"] == "waiting"
    status = httpx.get(f"{node.url}/_veil/status", verify=ca_context(node.certificate_pem()))
    assert status.json()["state"] == "waiting"


def assert_log_is_clean(node: NodeProcess) -> None:
    log = (node.node_dir / "node.log").read_bytes()
    assert SECRET_MARKER.encode() not in log
    assert SOURCE_MARKER.encode() not in log
    assert b"PRIVATE KEY" not in log


def provision(node: NodeProcess, package: Package, **kw: object) -> None:
    envelope = sealed_secrets(
        node.certificate_pem(),
        node.spec["instance_id"],
        key=package.key,
        fingerprint=package.fingerprint,
        **kw,  # type: ignore[arg-type]
    )
    response = post_envelope(node, envelope)
    assert response.status_code == 202, response.text
    assert response.json() == {"state": "loading"}


# -- the happy path ---------------------------------------------------------------------------


def test_provision_then_serve_over_ratls_with_httpx_and_curl(
    work: Path, package: Package, simulation_dir: Path
) -> None:
    node = start(work, "happy", package, simulation_dir)
    try:
        pem = node.certificate_pem()
        ca = ca_context(pem)
        before = httpx.get(f"{node.url}/hello", verify=ca)
        assert before.status_code == 503
        # The evidence served verifies as the expected (simulated) enclave for this package.
        header = read_package_header(package.path)
        runtime = runtime_identity()
        measurement = expected_measurement(
            backend="simulated",
            runtime=runtime,
            fingerprint=package.fingerprint,
            security_config_digest=security_config_digest(header.security_config_json),
        )
        policy = default_policy(
            allow_simulated_insecure=True,
            expected=[SimulatedMeasurement(bytes.fromhex(measurement.values["measurement"]))],
        )
        for params in ({}, {"nonce": "a1" * 32}):
            raw = httpx.get(f"{node.url}/_veil/evidence", params=params, verify=ca).content
            document = EvidenceDocument.from_json(raw)
            assert document.runtime.digest == runtime.digest, (
                "the veil runtime differs between the node and this test: were files under "
                "src/veil edited while the tests ran?"
            )
            verified = verify_evidence_document(document, policy=policy, now=datetime.now(UTC))
            assert document.deployment.instance_id == node.spec["instance_id"]
            assert leaf_spki(document.ratls_certificate) == leaf_spki(pem)
            assert verified.document.app.fingerprint == package.fingerprint
        assert document.deployment.nonce == bytes.fromhex("a1" * 32)

        provision(node, package)
        node.wait_for("serving")
        with httpx.Client(base_url=node.url, verify=ca) as client:
            assert client.get("/secret-names").json() == ["API_TOKEN"]
            assert client.get("/secret-length").json() == len(SECRET_MARKER)
            assert client.get("/_veil/status").json()["state"] == "serving"
            # An app exception whose source line and message hold the marker: 500, and the
            # log says what happened without quoting either.
            assert client.get("/boom").status_code == 500
        cafile = work / "happy-ratls.pem"
        cafile.write_bytes(pem)
        curl = subprocess.run(
            [
                "curl",
                "--silent",
                "--show-error",
                "--cacert",
                str(cafile),
                f"{node.url}/marker-length",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert curl.returncode == 0, curl.stderr
        assert curl.stdout == str(len(SOURCE_MARKER))
        # Nothing but the sealed directory was written in the node dir, and no plaintext.
        assert files_containing(node.node_dir, SOURCE_MARKER.encode()) == []
        assert files_containing(node.node_dir, SECRET_MARKER.encode()) == []
    finally:
        assert node.stop() == 0
    assert_log_is_clean(node)
    assert b"RuntimeError; traceback withheld" in (node.node_dir / "node.log").read_bytes()
    assert list(runtime_base().glob(runtime_dir_prefix(node.node_dir) + "*")) == []


def test_provisioning_twice_is_409(work: Path, package: Package, simulation_dir: Path) -> None:
    node = start(work, "twice", package, simulation_dir)
    try:
        provision(node, package)
        again = sealed_secrets(
            node.certificate_pem(),
            node.spec["instance_id"],
            key=package.key,
            fingerprint=package.fingerprint,
        )
        response = post_envelope(node, again)
        assert response.status_code == 409
        node.wait_for("serving")
        assert post_envelope(node, again).status_code == 409
    finally:
        node.stop()


# -- attacks: each leaves the node waiting ----------------------------------------------------


def test_blob_sealed_to_another_node_is_refused(
    waiting_node: NodeProcess, other_node: NodeProcess, package: Package
) -> None:
    """The operator replays the owner's blob for node B to node A (same package)."""
    for_other = sealed_secrets(
        other_node.certificate_pem(),
        other_node.spec["instance_id"],
        key=package.key,
        fingerprint=package.fingerprint,
    )
    response = post_envelope(waiting_node, for_other)
    assert response.status_code == 403
    assert response.json() == {"error": "sealed secrets rejected"}
    assert_still_waiting(waiting_node)
    assert_still_waiting(other_node)


def test_blob_bound_to_another_instance_id_is_refused(
    waiting_node: NodeProcess, package: Package
) -> None:
    """Sealed to this node's key but bound to another instance: HPKE info differs."""
    wrong = sealed_secrets(
        waiting_node.certificate_pem(),
        "0" * 32,
        key=package.key,
        fingerprint=package.fingerprint,
    )
    assert post_envelope(waiting_node, wrong).status_code == 403
    assert_still_waiting(waiting_node)


def test_operator_sealed_random_code_key_is_refused(
    waiting_node: NodeProcess, package: Package
) -> None:
    """The operator can seal to the node too, but cannot know the code key."""
    forged = sealed_secrets(
        waiting_node.certificate_pem(),
        waiting_node.spec["instance_id"],
        key=CodeKey.generate(),
        fingerprint=package.fingerprint,
    )
    response = post_envelope(waiting_node, forged)
    assert response.status_code == 403
    assert response.json() == {"error": "sealed secrets rejected"}
    assert_still_waiting(waiting_node)


def test_payload_fingerprint_not_matching_the_package_is_refused(
    waiting_node: NodeProcess, package: Package
) -> None:
    """Even with the right code key, secrets meant for another app version are refused."""
    mismatched = sealed_secrets(
        waiting_node.certificate_pem(),
        waiting_node.spec["instance_id"],
        key=package.key,
        fingerprint="sha256:" + "00" * 32,
    )
    assert post_envelope(waiting_node, mismatched).status_code == 403
    assert_still_waiting(waiting_node)


def test_payload_with_wrong_inner_binding_is_refused(
    waiting_node: NodeProcess, package: Package
) -> None:
    recipient, binding = binding_for(
        waiting_node.certificate_pem(), waiting_node.spec["instance_id"]
    )
    payload = SecretsPayload(
        code_key=package.key,
        package_fingerprint=package.fingerprint,
        instance_binding=format_instance_binding(bytes(32)),
        app_secrets={"API_TOKEN": SECRET_MARKER},
    )
    envelope = seal(payload.to_bytes(), recipient=recipient, binding=binding)
    assert post_envelope(waiting_node, envelope).status_code == 403
    assert_still_waiting(waiting_node)


def test_malformed_body_is_400(waiting_node: NodeProcess) -> None:
    response = post_envelope(waiting_node, b"this is not an envelope")
    assert response.status_code == 400
    assert "envelope" in response.json()["error"]
    assert_still_waiting(waiting_node)


def test_oversized_body_is_413(waiting_node: NodeProcess) -> None:
    response = post_envelope(waiting_node, b"VEILSEAL" + bytes(MAX_PROVISION_BYTES))
    assert response.status_code == 413
    assert_still_waiting(waiting_node)


def test_refusals_leave_no_secret_in_the_log(waiting_node: NodeProcess) -> None:
    assert_log_is_clean(waiting_node)
    assert b"rejected" in (waiting_node.node_dir / "node.log").read_bytes()


# -- crashes and restarts ---------------------------------------------------------------------


def test_killed_while_loading_then_restarted_leaves_no_plaintext(
    work: Path, package: Package, simulation_dir: Path
) -> None:
    node_dir = work / "killed"
    write_node_dir(node_dir, package.path, simulation_dir=simulation_dir)
    node = NodeProcess(node_dir, env={"VEIL_TEST_IMPORT_DELAY": "30"})
    node.wait_for("waiting")
    provision(node, package)
    node.wait_for("loading")

    def decrypted() -> list[Path]:
        runtime_dirs = runtime_base().glob(runtime_dir_prefix(node_dir) + "*")
        return [d for d in runtime_dirs if files_containing(d, SOURCE_MARKER.encode())]

    # The app is decrypted, then imported (the import sleeps 30 s): kill it in between, so the
    # killed node did leave plaintext in its runtime dir for the restart to clean.
    wait_until(lambda: bool(decrypted()), what="the app decrypted in the runtime dir")
    node.kill()
    stale = list(runtime_base().glob(runtime_dir_prefix(node_dir) + "*"))
    assert any(files_containing(d, SOURCE_MARKER.encode()) for d in stale)

    restarted = NodeProcess(node_dir)
    try:
        state = restarted.wait_for("waiting", "failed")
        assert state["state"] == "waiting"
        for directory in stale:
            assert not directory.exists()
        assert files_containing(node_dir, SOURCE_MARKER.encode()) == []
        assert files_containing(node_dir, SECRET_MARKER.encode()) == []
        for directory in runtime_base().glob(runtime_dir_prefix(node_dir) + "*"):
            assert files_containing(directory, SOURCE_MARKER.encode()) == []
            assert files_containing(directory, SECRET_MARKER.encode()) == []
        assert not (node_dir / "sealed" / "secrets.sealed").exists()
    finally:
        restarted.stop()
    assert_log_is_clean(restarted)


def test_restart_with_allow_restart_without_owner_serves_the_same_data(
    work: Path, restartable_package: Package, simulation_dir: Path
) -> None:
    node = start(work, "restartable", restartable_package, simulation_dir)
    note = "persisted note 7d1c"
    try:
        provision(node, restartable_package)
        node.wait_for("serving")
        ca = ca_context(node.certificate_pem())
        assert httpx.post(f"{node.url}/data", content=note.encode(), verify=ca).status_code == 200
        assert httpx.get(f"{node.url}/data", verify=ca).json() == note
    finally:
        assert node.stop() == 0
    sealed = node.node_dir / "sealed"
    assert (sealed / "secrets.sealed").is_file()
    assert files_containing(sealed, note.encode()) == []
    assert files_containing(sealed, SECRET_MARKER.encode()) == []
    assert files_containing(node.node_dir, SOURCE_MARKER.encode()) == []

    again = NodeProcess(node.node_dir)
    try:
        state = again.wait_for("serving")
        assert state["pid"] == again.process.pid
        ca = ca_context(again.certificate_pem())
        assert httpx.get(f"{again.url}/data", verify=ca).json() == note
        assert httpx.get(f"{again.url}/secret-names", verify=ca).json() == ["API_TOKEN"]
    finally:
        again.stop()
    assert_log_is_clean(again)


def test_restart_without_the_permission_waits_for_the_owner(
    work: Path, package: Package, simulation_dir: Path
) -> None:
    node = start(work, "no-restart", package, simulation_dir)
    try:
        provision(node, package)
        node.wait_for("serving")
    finally:
        node.stop()
    assert not (node.node_dir / "sealed" / "secrets.sealed").exists()
    again = NodeProcess(node.node_dir)
    try:
        assert again.wait_for("waiting", "serving")["state"] == "waiting"
    finally:
        again.stop()


def test_resealed_secrets_of_another_app_do_not_open(
    work: Path, package: Package, restartable_package: Package, simulation_dir: Path
) -> None:
    """The operator copies a restartable app's sealed dir into a node running another app."""
    restartable = start(work, "restartable-source", restartable_package, simulation_dir)
    try:
        provision(restartable, restartable_package)
        restartable.wait_for("serving")
    finally:
        restartable.stop()
    source = restartable.node_dir / "sealed"
    assert (source / "secrets.sealed").is_file()
    node_dir = work / "copied"
    write_node_dir(node_dir, package.path, simulation_dir=simulation_dir)
    shutil.copytree(source, node_dir / "sealed")
    # Relabel the package as restartable cannot be done without the code key; the node for
    # the other app refuses the foreign secrets and waits for its owner.
    node = NodeProcess(node_dir)
    try:
        assert node.wait_for("waiting", "serving")["state"] == "waiting"
    finally:
        node.stop()


def _catches(pid: int, sig: signal.Signals) -> bool:
    """Whether the process has a handler for ``sig`` (``SigCgt`` in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def test_sigterm_while_starting_is_logged_and_leaves_nothing(
    work: Path, package: Package, simulation_dir: Path
) -> None:
    """``veil stop`` right after ``veil spawn``: before, the node died silently (empty log)."""
    node_dir = work / "stopped-early"
    write_node_dir(node_dir, package.path, simulation_dir=simulation_dir)
    node = NodeProcess(node_dir)
    deadline = time.monotonic() + 30
    while not _catches(node.process.pid, signal.SIGTERM):  # its first instructions
        assert node.process.poll() is None, node.log()
        assert time.monotonic() < deadline
        time.sleep(0.001)
    node.process.send_signal(signal.SIGTERM)
    assert node.process.wait(timeout=60) == 0, node.log()
    log = node.log()
    assert "received SIGTERM" in log
    assert "Traceback" not in log
    assert list(runtime_base().glob(runtime_dir_prefix(node_dir) + "*")) == []


def test_app_calling_sys_exit_while_loading_fails_with_a_reason(
    work: Path, simulation_dir: Path
) -> None:
    """SystemExit escaped the loader and ended the node without a log line or a state."""
    app = write_app(work / "app-exits", name="exits", extra="\nimport sys\nsys.exit(3)\n")
    exits = make_package(app, work / "exits.veil")
    node = start(work, "exits", exits, simulation_dir)
    try:
        provision(node, exits)
        state = node.wait_for("failed")
        assert state["reason"] == "loading the app failed: internal error (SystemExit)"
        assert node.process.wait(timeout=60) == 1
    finally:
        node.stop()
    assert "loading the app failed: internal error (SystemExit)" in node.log()
    assert "node stopped (exit code 1)" in node.log()
    assert_log_is_clean(node)


# -- TLS scenarios ----------------------------------------------------------------------------


def _owner_certificate(directory: Path) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.example.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("app.example.com"),
                    x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    chain = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (directory / "cert.pem").write_bytes(chain)
    return chain, key_pem


def test_owner_certificate_scenario(work: Path, simulation_dir: Path) -> None:
    app = write_app(work / "owner-app", name="owner-app")
    chain, key_pem = _owner_certificate(app)
    with (app / "veil.toml").open("a") as f:
        f.write(
            '\n[tls]\nscenario = "owner-certificate"\ndomain = "app.example.com"\n'
            'certificate = "cert.pem"\n'
        )
    owner_package = make_package(app, work / "owner-app.veil")
    node = start(work, "owner", owner_package, simulation_dir)
    try:
        ratls_pem = node.certificate_pem()
        # Without the TLS key the owner-certificate app cannot start: refused, still waiting.
        without_key = sealed_secrets(
            ratls_pem,
            node.spec["instance_id"],
            key=owner_package.key,
            fingerprint=owner_package.fingerprint,
        )
        assert post_envelope(node, without_key).status_code == 403
        assert_still_waiting(node)
        provision(node, owner_package, tls=(chain, key_pem))
        node.wait_for("serving")
        served = node.certificate_pem()
        assert leaf_spki(served) == leaf_spki(chain)
        ca = ca_context(chain)
        assert httpx.get(f"{node.url}/secret-names", verify=ca).json() == ["API_TOKEN"]
        # The attestation endpoint now binds the owner certificate's key.
        raw = httpx.get(f"{node.url}/_veil/evidence", params={"nonce": "0b"}, verify=ca).content
        document = EvidenceDocument.from_json(raw)
        assert leaf_spki(document.ratls_certificate) == leaf_spki(chain)
        verify_evidence_document(
            document, policy=default_policy(allow_simulated_insecure=True), now=datetime.now(UTC)
        )
    finally:
        node.stop()
    assert b"BEGIN PRIVATE KEY" not in (node.node_dir / "node.log").read_bytes()


def test_operator_tls_scenario_switches_to_the_operator_certificate(
    work: Path, simulation_dir: Path
) -> None:
    app = write_app(work / "app-operator", name="operator-app")
    with (app / "veil.toml").open("a") as toml:
        toml.write('[tls]\nscenario = "operator"\n')  # the package's opt-in
    package = make_package(app, work / "operator.veil")
    directory = work / "operator-tls"
    directory.mkdir()
    chain, key_pem = _owner_certificate(directory)
    (directory / "key.pem").write_bytes(key_pem)
    node = start(
        work,
        "operator",
        package,
        simulation_dir,
        operator_tls=(directory / "cert.pem", directory / "key.pem"),
    )
    try:
        ratls_pem = node.certificate_pem()
        assert leaf_spki(ratls_pem) != leaf_spki(chain)  # bootstrap stays on RA-TLS
        claims = read_ratls_evidence(ratls_pem).claims
        assert claims is not None
        assert claims.tls_scenario == "operator"
        assert claims.tls_pin == sha256_tagged(leaf_spki(chain))
        # The operator swaps the files after start: the node serves what its claim names.
        other = work / "operator-tls-other"
        other.mkdir()
        _owner_certificate(other)
        shutil.copy(other / "cert.pem", directory / "cert.pem")
        provision(node, package)
        node.wait_for("serving")
        assert leaf_spki(node.certificate_pem()) == leaf_spki(chain)
        assert httpx.get(f"{node.url}/secret-names", verify=ca_context(chain)).status_code == 200
    finally:
        node.stop()
