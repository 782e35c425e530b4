"""A minimal Lambda Runtime API server for one function process.

One `RuntimeApiServer` serves exactly one process lifetime ("generation"): when the process is
killed (timeout) or dies, the executor throws the server away and starts a fresh one on a new
port, so a long-poll `/next` left hanging by a dead process can never swallow the next event.

Implements the endpoints a custom runtime (aws-lambda-rust-runtime, or a shell/python bootstrap)
uses: GET /2018-06-01/runtime/invocation/next, POST .../invocation/{id}/response,
POST .../invocation/{id}/error and POST .../init/error.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger(__name__)

API_PREFIX = "/2018-06-01/runtime"
_INVOCATION_PATH = re.compile(rf"^{API_PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


@dataclass
class PendingInvocation:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    trace_id: str
    deadline_ms: int
    client_context: str | None = None


@dataclass
class RuntimeReply:
    """What the function process answered for one invocation."""

    body: bytes
    is_error: bool
    error_type_header: str | None = None


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a killed function process drops its long-poll connection: expected, not worth a traceback
        LOG.debug("runtime API connection from %s ended with an error", client_address, exc_info=True)


class RuntimeApiServer:
    def __init__(self, name: str):
        self.name = name
        self.inbox: "queue.Queue[PendingInvocation]" = queue.Queue()
        self.replies: dict[str, Future] = {}
        self.replies_lock = threading.Lock()
        # set the first time the process asks for work: the runtime finished its init
        self.ready = threading.Event()
        self.init_error: bytes | None = None
        self.init_failed = threading.Event()
        self.closed = threading.Event()
        self._httpd = _QuietHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"lambda-runtime-api-{name}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.closed.set()
        with self.replies_lock:
            for fut in self.replies.values():
                if not fut.done():
                    fut.cancel()
        try:
            self._httpd.shutdown()
            self._httpd.server_close()
        except Exception:  # closing twice or while serving: nothing to keep
            LOG.debug("runtime API server %s: error on close", self.name, exc_info=True)

    def submit(self, invocation: PendingInvocation) -> Future:
        fut: Future = Future()
        with self.replies_lock:
            self.replies[invocation.request_id] = fut
        self.inbox.put(invocation)
        return fut

    def forget(self, request_id: str) -> None:
        with self.replies_lock:
            self.replies.pop(request_id, None)

    # --- HTTP side -------------------------------------------------------------------------

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep LocalStack's log free of access lines
                LOG.debug("runtime API %s: " + fmt, server.name, *args)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size_line = self.rfile.readline().strip()
                        size = int(size_line.split(b";")[0] or b"0", 16)
                        if size == 0:
                            # trailers until the blank line
                            while self.rfile.readline().strip():
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                if body and "Content-Type" not in (headers or {}):
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def _json(self, status: int, error_type: str, message: str):
                body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
                self._send(status, body)

            def do_GET(self):
                if self.path.rstrip("/") != f"{API_PREFIX}/invocation/next":
                    return self._json(404, "NotFound", f"unknown path {self.path}")
                server.ready.set()
                while not server.closed.is_set():
                    try:
                        inv = server.inbox.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    headers = {
                        "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": inv.invoked_function_arn,
                        "Lambda-Runtime-Trace-Id": inv.trace_id,
                        "Content-Type": "application/json",
                    }
                    if inv.client_context:
                        headers["Lambda-Runtime-Client-Context"] = inv.client_context
                    try:
                        self._send(200, inv.payload, headers)
                    except OSError:
                        # the process went away between asking and receiving: hand the event back
                        server.inbox.put(inv)
                        raise
                    return
                self._json(410, "Runtime.Closed", "execution environment is shutting down")

            def do_POST(self):
                body = self._body()
                if self.path.rstrip("/") == f"{API_PREFIX}/init/error":
                    server.init_error = body or json.dumps(
                        {
                            "errorType": self.headers.get(
                                "Lambda-Runtime-Function-Error-Type", "Runtime.InitError"
                            ),
                            "errorMessage": "init error",
                        }
                    ).encode()
                    server.init_failed.set()
                    return self._send(202, b'{"status":"OK"}')
                match = _INVOCATION_PATH.match(self.path)
                if not match:
                    return self._json(404, "NotFound", f"unknown path {self.path}")
                with server.replies_lock:
                    fut = server.replies.get(match["id"])
                if fut is None or fut.done():
                    return self._json(
                        400, "InvalidRequestID", f"unknown or finished request {match['id']}"
                    )
                fut.set_result(
                    RuntimeReply(
                        body=body,
                        is_error=match["kind"] == "error",
                        error_type_header=self.headers.get("Lambda-Runtime-Function-Error-Type"),
                    )
                )
                self._send(202, b'{"status":"OK"}')

        return Handler
