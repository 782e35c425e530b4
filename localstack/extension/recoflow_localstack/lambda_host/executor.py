"""LocalStack Lambda runtime executor that runs a function's `bootstrap` as a host process.

Selected with LAMBDA_RUNTIME_EXECUTOR=recoflow-host. One executor instance is one LocalStack
"execution environment": it owns one function process at a time and a private Runtime API
server (see runtime_api.py) on 127.0.0.1 that the process polls. LocalStack's own executor
endpoint (the /_localstack_lambda callbacks used by its Go init in Docker) is not involved:
`invoke` hands the event to the process and waits for its reply itself.

Behaviour, mirroring what the Lambda service does:
- timeout: the process group is killed when Timeout passes; the caller gets
  {"errorType": "Sandbox.Timedout", ...} as an unhandled error; the next invoke starts a fresh
  process (cold start).
- crash: a process that exits during an invoke yields {"errorType": "Runtime.ExitError"}; one that
  exits while idle is noticed on the next invoke. Either way the next invoke starts a new process.
- injected crash: a rule of the fault endpoint (faults.py, lambda.crash_next) that matches the
  function and the event kills the process group with SIGKILL that many seconds after the event was
  handed over, and the invoke ends as a crash does (Runtime.ExitError, "signal: killed").
- init failure (/init/error, or exit before asking for work): the invoke fails with the error the
  runtime sent (or Runtime.ExitError).
- logs: stdout+stderr of the process are appended to <log dir>/<function name>.log and the lines
  written during an invoke are returned to LocalStack, which stores them in CloudWatch Logs under
  /aws/lambda/<function name> like it does for Docker-run functions.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import select
import signal
import struct
import subprocess
import tempfile
import termios
import threading
import time
from collections import deque
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import (
    NAMESPACE,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
    PackageType,
)
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from .. import faults
from .runtime_api import PendingInvocation, RuntimeApiServer, RuntimeReply

LOG = logging.getLogger(__name__)

HOST = "127.0.0.1"
# Host environment a function process inherits; everything else comes from the function config.
_INHERITED_HOST_VARS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
_KILL_GRACE_SECONDS = 2.0
_LOG_TAIL_LINES = 2000
# how long an invoke waits at most for the output reader to take in what the process wrote
# before replying (normally a few milliseconds)
_CAPTURE_DRAIN_SECONDS = 0.5


def _state_dir(env_name: str, default_leaf: str) -> Path:
    configured = os.environ.get(env_name)
    if configured:
        path = Path(configured)
    else:
        base = config.dirs.tmp or tempfile.gettempdir()
        path = Path(base) / default_leaf
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    return _state_dir("RECOFLOW_LAMBDA_LOG_DIR", "recoflow-lambda-logs")


def pid_dir() -> Path:
    return _state_dir("RECOFLOW_LAMBDA_PID_DIR", "recoflow-lambda-pids")


def gateway_port() -> int:
    return config.GATEWAY_LISTEN[0].port


class _FunctionProcess:
    """One life of the function's bootstrap process, with its Runtime API server."""

    def __init__(self, executor: "HostRuntimeExecutor", env: dict[str, str], code_dir: Path):
        self.executor = executor
        self.api = RuntimeApiServer(executor.id)
        self.api.start()
        env = dict(env)
        env["AWS_LAMBDA_RUNTIME_API"] = f"{HOST}:{self.api.port}"
        bootstrap = code_dir / "bootstrap"
        if not bootstrap.is_file():
            self.api.close()
            raise LambdaRuntimeException(
                f"function {executor.function_name}: no 'bootstrap' file in the deployment package"
            )
        bootstrap.chmod(bootstrap.stat().st_mode | 0o111)
        self.started_at = time.monotonic()
        self.capture: list[str] | None = None
        self.capture_lock = threading.Lock()
        self.proc = subprocess.Popen(
            [str(bootstrap)],
            cwd=str(code_dir),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: a timeout kills children too
        )
        self.pid_file = pid_dir() / str(self.proc.pid)
        try:
            self.pid_file.write_text(f"{self.proc.pid} {executor.function_name}\n")
        except OSError:
            LOG.debug("cannot write pid file %s", self.pid_file, exc_info=True)
        self.exited = threading.Event()
        # the output reader is blocked waiting for output, having handled everything it read
        self.pump_idle = threading.Event()
        self.pump_done = threading.Event()
        # exit is watched apart from the output pipe: a child that inherited stdout may keep the
        # pipe open after the bootstrap itself died
        threading.Thread(
            target=self._watch_exit, name=f"lambda-wait-{executor.id}", daemon=True
        ).start()
        threading.Thread(
            target=self._pump_output, name=f"lambda-log-{executor.id}", daemon=True
        ).start()
        LOG.debug(
            "started %s pid=%s runtime API %s:%s",
            executor.function_name,
            self.proc.pid,
            HOST,
            self.api.port,
        )

    def _watch_exit(self) -> None:
        self.proc.wait()
        self.exited.set()

    def _pump_output(self) -> None:
        # raw reads (no read-ahead buffer) so end_capture can tell when everything is taken in
        fd = self.proc.stdout.fileno()
        poller = select.poll()  # not select(): LocalStack may hold more than 1024 descriptors
        poller.register(fd, select.POLLIN)
        pending = b""
        try:
            while True:
                self.pump_idle.set()
                poller.poll()
                self.pump_idle.clear()
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    self._emit(raw)
            if pending:
                self._emit(pending)
        finally:
            self.pump_done.set()
            self.pump_idle.set()
            self.proc.stdout.close()

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace")
        self.executor.record_log_line(line)
        with self.capture_lock:
            if self.capture is not None:
                self.capture.append(line)

    def _unread_output(self) -> int:
        try:
            buf = fcntl.ioctl(self.proc.stdout.fileno(), termios.FIONREAD, struct.pack("i", 0))
            return struct.unpack("i", buf)[0]
        except (OSError, ValueError):
            return 0

    def begin_capture(self) -> None:
        with self.capture_lock:
            self.capture = []

    def end_capture(self) -> list[str]:
        # What the process wrote before replying is in the pipe or with the reader thread; wait
        # until the pipe is empty and, after that, the reader is idle again (in that order: the
        # reader clears pump_idle before it takes anything out of the pipe).
        deadline = time.monotonic() + _CAPTURE_DRAIN_SECONDS
        while time.monotonic() < deadline and not self.pump_done.is_set():
            if self._unread_output() == 0 and self.pump_idle.is_set():
                break
            time.sleep(0.002)
        with self.capture_lock:
            lines, self.capture = self.capture or [], None
        return lines

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_until_ready(self, timeout: float) -> bytes | None:
        """Wait for the first /next. Returns an init error payload, or None when ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api.ready.is_set():
                return None
            if self.api.init_failed.is_set():
                return self.api.init_error
            if not self.alive() and self.exited.wait(0.1):
                if self.api.init_failed.is_set():
                    return self.api.init_error
                return _error_payload(
                    "Runtime.ExitError",
                    f"Error: Runtime exited with error: exit status {self.proc.returncode}",
                )
            self.api.ready.wait(0.05)
        return _error_payload(
            "Runtime.Unavailable", f"Error: runtime did not become ready within {timeout:.0f}s"
        )

    def kill(self, grace_seconds: float = _KILL_GRACE_SECONDS) -> None:
        """Ends the whole process group: SIGTERM, then SIGKILL after ``grace_seconds`` (at once
        when 0, as for an injected crash: nothing of the function may run on)."""
        if self.proc.poll() is None:
            if grace_seconds > 0:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        else:
            # the leader is gone but children in its group may linger
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.exited.wait(5)
        self.api.close()
        try:
            self.pid_file.unlink(missing_ok=True)
        except OSError:
            pass


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _exit_description(returncode: int | None) -> str:
    """How Lambda words a runtime's end: "exit status 3", or "signal: killed" for a process ended
    by SIGKILL (the wording of Go's os.ProcessState, which Lambda's init reports)."""
    if returncode is not None and returncode < 0:
        name = signal.strsignal(-returncode)
        return f"signal: {name.lower()}" if name else f"signal: {-returncode}"
    return f"exit status {returncode}"


class _CrashRules:
    """The injected crashes (faults.py, lambda.crash_next) that may end one invocation. The rules
    are looked at when the event is handed over; one is counted down only when it falls due while
    the function is still working, so a function that answers first uses up nothing."""

    def __init__(self, function_name: str, payload: str):
        self.function_name = function_name
        self.payload = payload
        self.due = faults.lambda_crash_due(function_name, payload)
        self.taken: dict | None = None
        self.taken_at = 0.0

    def wait_limit(self, elapsed: float) -> float:
        """How long the invoke may wait for the reply before it must call ``take`` again."""
        return float("inf") if self.due is None else max(0.0, self.due - elapsed)

    def take(self, elapsed: float) -> bool:
        """True when a rule fell due ``elapsed`` seconds into the invocation and was counted down
        for it (then ``taken`` is that rule)."""
        if self.due is None or elapsed < self.due:
            return False
        self.taken = faults.take_lambda_crash(self.function_name, self.payload, elapsed)
        self.taken_at = elapsed
        if self.taken is None:
            # used up by another invocation meanwhile; a rule due later may still apply
            self.due = faults.lambda_crash_due(self.function_name, self.payload)
        return self.taken is not None


class HostRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.function_name = function_version.id.function_name
        self._env: dict[str, str] | None = None
        self._process: _FunctionProcess | None = None
        self._lock = threading.RLock()
        self._stopped = False
        self._log_tail: deque[str] = deque(maxlen=_LOG_TAIL_LINES)
        self._log_file_lock = threading.Lock()
        self.log_file = log_dir() / f"{self.function_name}.log"

    # --- logs ---------------------------------------------------------------------------------

    def record_log_line(self, line: str) -> None:
        self._log_tail.append(line)
        with self._log_file_lock:
            try:
                with self.log_file.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
            except OSError:
                LOG.debug("cannot append to %s", self.log_file, exc_info=True)

    def get_logs(self) -> str:
        return "\n".join(self._log_tail)

    # --- lifecycle ----------------------------------------------------------------------------

    def _code_dir(self) -> Path:
        cfg = self.function_version.config
        if cfg.package_type != PackageType.Zip or cfg.code is None:
            raise LambdaRuntimeException(
                "recoflow-host executor runs zip-packaged functions only (no container images)"
            )
        cfg.code.prepare_for_execution()  # no-op when already unzipped
        return Path(cfg.code.get_unzipped_code_location())

    def _process_env(self, env_vars: dict[str, str], code_dir: Path) -> dict[str, str]:
        env = {k: os.environ[k] for k in _INHERITED_HOST_VARS if k in os.environ}
        env.update({k: str(v) for k, v in env_vars.items() if v is not None})
        # Docker paths mean nothing on the host
        env["LAMBDA_TASK_ROOT"] = str(code_dir)
        env["LAMBDA_RUNTIME_DIR"] = str(code_dir)
        endpoint = f"http://{HOST}:{gateway_port()}"
        env.setdefault("AWS_ENDPOINT_URL", endpoint)
        env["LOCALSTACK_HOSTNAME"] = HOST
        env.setdefault("AWS_EXECUTION_ENV", "AWS_Lambda_rapid")
        return env

    def _spawn(self) -> _FunctionProcess:
        """Start the bootstrap; a package that cannot be started is the caller's error, reported
        as Runtime.InvalidEntrypoint the way Lambda does, not as an internal error."""
        code_dir = self._code_dir()
        try:
            return _FunctionProcess(self, self._process_env(self._env or {}, code_dir), code_dir)
        except (LambdaRuntimeException, OSError) as e:
            message = f"Error: cannot start bootstrap: {e}"
            self.record_log_line(message)
            raise StatusErrorException(
                "Environment startup failed",
                payload=_error_payload("Runtime.InvalidEntrypoint", message),
            ) from e

    def _startup_timeout(self) -> float:
        return float(config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT or 20)

    def start(self, env_vars: dict[str, str]) -> None:
        with self._lock:
            self._env = dict(env_vars)
            self._stopped = False
            process = self._spawn()
            self._process = process
        init_error = process.wait_until_ready(self._startup_timeout())
        if init_error is not None:
            process.kill()
            raise StatusErrorException("Environment startup failed", payload=init_error)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            process, self._process = self._process, None
        if process:
            process.kill()

    def _ready_process(self) -> tuple[_FunctionProcess | None, bytes | None]:
        """The running process, restarting it if it died or was killed after a timeout."""
        with self._lock:
            if self._stopped:
                return None, _error_payload("Runtime.Unavailable", "execution environment stopped")
            process = self._process
            if process is not None and process.alive():
                return process, None
            if process is not None:
                LOG.info(
                    "function %s: process %s gone (exit %s), starting a new one",
                    self.function_name,
                    process.proc.pid,
                    process.proc.returncode,
                )
                process.kill()
            try:
                process = self._spawn()
            except StatusErrorException as e:
                self._process = None
                return None, e.payload
            self._process = process
        init_error = process.wait_until_ready(self._startup_timeout())
        if init_error is not None:
            process.kill()
            return None, init_error
        return process, None

    # --- invoke -------------------------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        timeout = float(self.function_version.config.timeout or 3)
        version = self.function_version.id.qualifier
        started = time.monotonic()
        process, init_error = self._ready_process()
        if process is None:
            logs = f"INIT_REPORT RequestId: {request_id} Status: error\n"
            self.record_log_line(logs.rstrip())
            return InvocationResult(request_id, init_error, is_error=True, logs=logs)

        start_line = f"START RequestId: {request_id} Version: {version}"
        self.record_log_line(start_line)
        process.begin_capture()
        deadline_ms = int(time.time() * 1000 + timeout * 1000)
        event = payload.get("payload") or ""
        crash_rules = _CrashRules(self.function_name, event)
        reply_future = process.api.submit(
            PendingInvocation(
                request_id=request_id,
                payload=event.encode("utf-8"),
                invoked_function_arn=payload.get("invoked-function-arn", ""),
                trace_id=payload.get("trace-id", ""),
                deadline_ms=deadline_ms,
            )
        )
        outcome, reply = _await_reply(process, reply_future, timeout, crash_rules)
        process.api.forget(request_id)

        if outcome == "injected":
            rule = crash_rules.taken
            LOG.warning(
                "function %s: injected crash of request %s, %.2f s into it (lambda.crash_next rule"
                " function %r, payload_contains %r, after_seconds %s: %d more to inject)",
                self.function_name,
                request_id,
                crash_rules.taken_at,
                rule["function"],
                rule.get("payload_contains"),
                rule["after_seconds"],
                rule["count"],
            )
            process.kill(grace_seconds=0)
            outcome = "crash"

        if outcome == "timeout":
            process.kill()
            message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
            body = _error_payload("Sandbox.Timedout", message)
            extra = [f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {message}"]
        elif outcome == "crash":
            exit_text = _exit_description(process.proc.returncode)
            message = f"RequestId: {request_id} Error: Runtime exited with error: {exit_text}"
            body = _error_payload("Runtime.ExitError", message)
            extra = [message]
        elif outcome == "stopped":
            body = _error_payload("Runtime.Unavailable", "execution environment stopped")
            extra = []
        else:
            body = reply.body
            extra = []
            if reply.is_error:
                body = _normalise_error(reply.body, reply.error_type_header)

        lines = process.end_capture() + extra
        for line in extra:
            self.record_log_line(line)
        duration_ms = (time.monotonic() - started) * 1000
        end_line = f"END RequestId: {request_id}"
        report_line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {int(duration_ms) + 1} ms\t"
            f"Memory Size: {self.function_version.config.memory_size} MB"
            + ("\tStatus: timeout" if outcome == "timeout" else "")
        )
        self.record_log_line(end_line)
        self.record_log_line(report_line)
        logs = "\n".join([start_line, *lines, end_line, report_line]) + "\n"
        is_error = outcome != "ok" or reply.is_error
        return InvocationResult(request_id, body, is_error=is_error, logs=logs)

    # --- addresses ----------------------------------------------------------------------------

    def get_address(self) -> str:
        return HOST

    def get_endpoint_from_executor(self) -> str:
        return HOST

    def get_runtime_endpoint(self) -> str:
        return f"http://{HOST}:{gateway_port()}{NAMESPACE}/{self.id}"

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        cfg = function_version.config
        if cfg.package_type != PackageType.Zip:
            raise LambdaRuntimeException(
                "recoflow-host executor runs zip-packaged functions only (no container images)"
            )
        if cfg.code:
            cfg.code.prepare_for_execution()  # unzip once per version, as the Docker executor does
        runtime = cfg.runtime or ""
        if not runtime.startswith("provided"):
            LOG.warning(
                "function %s has runtime %s; the recoflow-host executor only runs a 'bootstrap'"
                " executable (provided.al2023 / provided.al2)",
                function_version.id.function_name,
                runtime,
            )

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return True


def _await_reply(
    process: _FunctionProcess, reply_future, timeout: float, crash_rules: _CrashRules
) -> tuple[str, RuntimeReply | None]:
    """Waits for the function's answer to the event just handed over. The outcome: "ok" (with the
    reply), "timeout", "injected" (a crash rule fell due first), "crash" (the process exited
    without answering) or "stopped" (the environment is being stopped)."""
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= timeout:
            return "timeout", None
        if crash_rules.take(elapsed):
            return "injected", None
        wait = min(0.1, timeout - elapsed, crash_rules.wait_limit(elapsed))
        try:
            return "ok", reply_future.result(timeout=wait)
        except TimeoutError:
            pass
        except Exception:  # cancelled: the environment is being stopped
            return "stopped", None
        if process.exited.is_set():
            if reply_future.done() and not reply_future.cancelled():
                return "ok", reply_future.result()
            return "crash", None


def _normalise_error(body: bytes, error_type_header: str | None) -> bytes:
    """Keep the runtime's error document; make sure it has errorType and errorMessage."""
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = None
    if isinstance(doc, dict) and ("errorType" in doc or "errorMessage" in doc):
        if "errorType" not in doc and error_type_header:
            doc["errorType"] = error_type_header
            return json.dumps(doc).encode()
        return body
    message = body.decode("utf-8", errors="replace") if body else ""
    return _error_payload(error_type_header or "Unhandled", message)


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "recoflow-host"

    def load(self, *args, **kwargs):
        return HostRuntimeExecutor
