"""The enclave node: attested identity, bootstrap API, provisioning, then the app on one port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import veil
from veil.enclave._stop_signals import STOP_SIGNALS, early_stop_signal, record_stop_signals
from veil.enclave.bootstrap import build_bootstrap_app
from veil.enclave.errors import NotWaitingError, PackageCorruptedError, ProvisioningRejectedError
from veil.enclave.instance import EnclaveInstance, read_header
from veil.enclave.launch import RunningApp, launch_app
from veil.enclave.provisioning import Accepted, Authenticator
from veil.enclave.runtime_dir import RuntimeDir, remove_stale_runtime_dirs
from veil.enclave.server import Dispatcher, NodeServer, TlsSwitch, bind_socket
from veil.enclave.spec import NodeSpec
from veil.enclave.state import STATE_FILE, InvalidTransitionError, NodeState, StateMachine
from veil.errors import FormatError, VeilError

__all__ = [
    "EXIT_BAD_NODE_DIR",
    "EXIT_FAILED",
    "EXIT_STOPPED",
    "SEALED_DIR",
    "SEALED_SECRETS_FILE",
    "Node",
    "run",
]

_log = logging.getLogger("veil.enclave")

SEALED_DIR: Final = "sealed"
SEALED_SECRETS_FILE: Final = "secrets.sealed"
#: Exit codes: 0 stopped by a signal, 1 failed (``state.json`` says why), 2 no usable node dir.
EXIT_STOPPED: Final = 0
EXIT_FAILED: Final = 1
EXIT_BAD_NODE_DIR: Final = 2
#: Time the server gets to finish open requests on shutdown, in seconds.
SHUTDOWN_GRACE_SECONDS: Final = 10.0


class Node:
    """One running node; also the bootstrap API's controller."""

    def __init__(
        self,
        *,
        node_dir: Path,
        state: StateMachine,
        runtime: RuntimeDir,
        instance: EnclaveInstance,
    ) -> None:
        self.node_dir = node_dir
        self.spec = instance.spec
        self.state = state
        self.runtime = runtime
        self.instance = instance
        self.authenticator = Authenticator(
            instance=instance,
            runtime=runtime,
            sealed_secrets=node_dir / SEALED_DIR / SEALED_SECRETS_FILE,
        )
        self.tls = TlsSwitch(instance.ratls_tls_context(scratch_dir=runtime.path))
        self.dispatcher = Dispatcher(
            build_bootstrap_app(self), state_name=lambda: self.state.state.value
        )
        self._stop = asyncio.Event()
        self._exit_code = EXIT_STOPPED
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: RunningApp | None = None

    # -- bootstrap controller -------------------------------------------------------------

    def status(self) -> Mapping[str, object]:
        record = self.state.record
        return {
            "state": record.state.value,
            "reason": record.reason,
            "app_name": self.instance.header.app_name,
            "fingerprint": self.instance.header.fingerprint,
            "instance_id": self.spec.instance_id,
            "tee": self.instance.backend.tee.value,
            "version": veil.__version__,
        }

    async def evidence(self, *, nonce: bytes | None) -> bytes:
        return await asyncio.to_thread(self.instance.evidence_json, nonce=nonce)

    async def provision(self, envelope: bytes) -> Mapping[str, object]:
        try:
            self.state.transition(NodeState.PROVISIONING, expect=NodeState.WAITING)
        except InvalidTransitionError as e:
            raise NotWaitingError(f"the node is {e.current}, not waiting for secrets") from None
        try:
            accepted = await asyncio.to_thread(self.authenticator.authenticate, envelope)
        except ProvisioningRejectedError:
            _log.warning("provisioning refused: sealed secrets rejected")
            self.state.transition(NodeState.WAITING, reason="last provisioning attempt rejected")
            raise
        except PackageCorruptedError:
            _log.warning("provisioning refused: the package file is corrupted or was swapped")
            self.state.transition(
                NodeState.WAITING, reason="last provisioning attempt: package corrupted or swapped"
            )
            raise
        except FormatError:
            _log.warning("provisioning refused: not a sealed envelope")
            self.state.transition(NodeState.WAITING, reason="last provisioning attempt malformed")
            raise
        except BaseException as e:
            _log.error("provisioning attempt failed (%s)", type(e).__name__)
            self.state.transition(NodeState.WAITING, reason="last provisioning attempt failed")
            raise
        _log.info("sealed secrets accepted; loading the app")
        self.state.transition(NodeState.LOADING)
        self._spawn(self._load(accepted))
        return {"state": NodeState.LOADING.value}

    # -- life cycle -----------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load(self, accepted: Accepted) -> None:
        try:
            running = await launch_app(
                accepted,
                instance=self.instance,
                runtime=self.runtime,
                authenticator=self.authenticator,
                sealed_dir=self.node_dir / SEALED_DIR,
            )
        except (Exception, SystemExit) as e:
            # VeilError messages are written never to quote secrets or source; anything else
            # is reduced to its type for the same reason. SystemExit: an app calling
            # sys.exit() while it is imported or started is a failed load, not a silent exit.
            reason = str(e) if isinstance(e, VeilError) else f"internal error ({type(e).__name__})"
            _log.error("loading the app failed: %s", reason)
            self.state.fail(f"loading the app failed: {reason}")
            self._exit_code = EXIT_FAILED
            self._stop.set()
            return
        self._running = running
        if running.tls_context is not None:
            self.tls.use(running.tls_context)
        self.dispatcher.set_app(running.asgi, state=running.lifespan_state)
        self.state.transition(NodeState.SERVING)
        _log.info("serving the app (%s, TLS %s)", running.interface, running.tls_scenario)

    def request_stop(self, sig: signal.Signals | None = None) -> None:
        if sig is not None and not self._stop.is_set():
            _log.info("received %s: stopping", sig.name)
        self._stop.set()

    async def serve(self) -> int:
        """Serve until a signal or a failure; return the process exit code."""
        sock = bind_socket(self.spec.host, self.spec.port)
        server = NodeServer(app=self.dispatcher, sock=sock, tls=self.tls)
        server_task = asyncio.create_task(server.serve())
        try:
            await server.wait_started(server_task)
            restored = await asyncio.to_thread(self.authenticator.restore_sealed_secrets)
            if restored is not None:
                _log.info("re-sealed secrets opened: restarting the app without its owner")
                self.state.transition(NodeState.LOADING, reason="restart without owner")
                self._spawn(self._load(restored))
            else:
                self.state.transition(NodeState.WAITING)
                _log.info("waiting for sealed secrets on %s", self.spec.url)
            stop_task = asyncio.create_task(self._stop.wait())
            await asyncio.wait({server_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            if not stop_task.done():
                stop_task.cancel()
                _log.error("the HTTPS server stopped unexpectedly")
                self.state.fail("the HTTPS server stopped unexpectedly")
                self._exit_code = EXIT_FAILED
        finally:
            await self._shutdown(server, server_task)
        return self._exit_code

    async def _shutdown(self, server: NodeServer, server_task: asyncio.Task[None]) -> None:
        server.stop()
        with contextlib.suppress(TimeoutError, VeilError):
            await asyncio.wait_for(server_task, timeout=SHUTDOWN_GRACE_SECONDS)
        if self._running is not None:
            await self._running.close()
        for task in list(self._tasks):
            task.cancel()
        self.runtime.close()
        _log.info("node stopped (exit code %d)", self._exit_code)


class _NoTracebacks(logging.Filter):
    """Reduce exception details to the exception's type.

    ``node.log`` belongs to the operator, and a traceback quotes the app's source lines (and
    exception messages may quote its data): neither may leave the enclave.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            kind = record.exc_info[0].__name__ if record.exc_info[0] else "exception"
            record.msg = f"{record.getMessage().rstrip()} ({kind}; traceback withheld)"
            record.args = None
            record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


def _show_warning_type_only(  # noqa: PLR0917 - the warnings.showwarning signature
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    _log.warning("a %s was emitted (details withheld)", category.__name__)


def _thread_exception(args: threading.ExceptHookArgs) -> None:
    _log.error("a thread raised %s (traceback withheld)", args.exc_type.__name__)


def _unraisable(args: sys.UnraisableHookArgs) -> None:
    _log.error("an unraisable %s was ignored (details withheld)", args.exc_type.__name__)


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_NoTracebacks())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    warnings.showwarning = _show_warning_type_only
    threading.excepthook = _thread_exception
    sys.unraisablehook = _unraisable


async def _main(node_dir: Path) -> int:
    try:
        spec = NodeSpec.read(node_dir)
    except VeilError as e:
        _log.error("cannot start: %s", e)
        return EXIT_BAD_NODE_DIR
    removed = remove_stale_runtime_dirs(node_dir)
    if removed:
        _log.info("removed %d runtime director(ies) left by a killed node", removed)
    state: StateMachine | None = None
    runtime: RuntimeDir | None = None
    try:
        header = read_header(spec)
        state = StateMachine(
            state_file=node_dir / STATE_FILE,
            port=spec.port,
            url=spec.url,
            fingerprint=header.fingerprint,
        )
        runtime = RuntimeDir.create(node_dir)
        instance = EnclaveInstance.create(spec, header, now=datetime.now(UTC))
        node = Node(node_dir=node_dir, state=state, runtime=runtime, instance=instance)
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, node.request_stop, sig)
        early = early_stop_signal()  # checked after the handlers: no signal falls in between
        if early is not None:
            _log.info("received %s while starting: stopping before serving", early.name)
            runtime.close()
            return EXIT_STOPPED
        return await node.serve()
    except Exception as e:
        reason = str(e) if isinstance(e, VeilError) else f"internal error ({type(e).__name__})"
        _log.error("node failed: %s", reason)
        try:
            if state is None:
                state = StateMachine(
                    state_file=node_dir / STATE_FILE,
                    port=spec.port,
                    url=spec.url,
                    fingerprint=None,
                )
            state.fail(reason)
        except VeilError as write_error:
            _log.error("cannot record the failure: %s", write_error)
        if runtime is not None:
            runtime.close()
        return EXIT_FAILED


def run(node_dir: Path) -> int:
    """Run the node of ``node_dir`` until stopped; return the process exit code.

    Every way out logs one reason line: ``node.log`` is all the operator has to go on.
    """
    record_stop_signals()  # no-op if ``python -m veil.enclave`` already did it
    _configure_logging()
    if not (node_dir / "node.json").is_file():
        _log.error("cannot start: %s has no node.json", node_dir)
        return EXIT_BAD_NODE_DIR
    try:
        return asyncio.run(_main(node_dir.resolve()))
    except BaseException as e:  # the last line of the log must say why the node stopped
        _log.error("node stopped by an unexpected %s", type(e).__name__)
        return EXIT_FAILED
