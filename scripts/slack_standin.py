"""A Slack incoming-webhook stand-in on 127.0.0.1, for `make demo` and the end-to-end suite.

It records every message posted to any path (except the control paths below) and answers like
Slack: `200 ok`, or what it was told to answer next.

    python scripts/slack_standin.py --port 4598 [--record build/slack-messages.jsonl] [--pid-file F]

Control (JSON):
    GET    /_messages              every message received, oldest first ({"path", "at", "body"})
    DELETE /_messages              forget them
    POST   /_answers               answers for the next posts, in order, then `200 ok` again:
                                   [{"status": 429, "retry_after": 1}, {"status": 500},
                                    {"status": 400, "body": "invalid_payload"}, ...]
                                   An answer with "match": "<text>" is used only for a post
                                   whose body contains that text (a job id, say), so tests
                                   running side by side do not take each other's answers.
    DELETE /_answers               forget the queued answers
    GET    /_health                `ok`
Posts that get anything but 200 are recorded too (with the status they got), so a test can see
the retries. Stop it with SIGTERM.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
MESSAGES: list[dict] = []
ANSWERS: list[dict] = []
RECORD_FILE = None


class Handler(BaseHTTPRequestHandler):
    server_version = "slack-standin/1"

    def log_message(self, *_):  # quiet: the tests and the demo print what matters
        pass

    def _reply(self, status: int, body, headers: dict | None = None):
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("content-type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def do_GET(self):
        if self.path == "/_health":
            return self._reply(200, "ok")
        if self.path == "/_messages":
            with LOCK:
                return self._reply(200, list(MESSAGES))
        return self._reply(404, "no_service")

    def do_DELETE(self):
        with LOCK:
            if self.path == "/_messages":
                MESSAGES.clear()
            elif self.path == "/_answers":
                ANSWERS.clear()
            else:
                return self._reply(404, "no_service")
        return self._reply(200, "ok")

    def do_POST(self):
        raw = self._body()
        if self.path == "/_answers":
            try:
                answers = json.loads(raw)
                assert isinstance(answers, list) and all(isinstance(a, dict) and "status" in a for a in answers)
            except (ValueError, AssertionError):
                return self._reply(400, "a list of {status, retry_after?, body?, match?}")
            with LOCK:
                ANSWERS.extend(answers)
            return self._reply(200, "ok")
        text = raw.decode(errors="replace")
        with LOCK:
            index = next((i for i, a in enumerate(ANSWERS) if a.get("match", "") in text), None)
            answer = ANSWERS.pop(index) if index is not None else {"status": 200, "body": "ok"}
        try:
            body = json.loads(raw)
        except ValueError:
            body = text
        status = int(answer["status"])
        entry = {"path": self.path, "at": time.time(), "status": status, "body": body}
        with LOCK:
            MESSAGES.append(entry)
            if RECORD_FILE:
                with open(RECORD_FILE, "a") as record:
                    record.write(json.dumps(entry) + "\n")
        headers = {"retry-after": str(answer["retry_after"])} if "retry_after" in answer else {}
        default_body = {200: "ok", 429: "rate_limited", 500: "internal_error"}.get(status, "error")
        return self._reply(status, answer.get("body", default_body), headers)


def main() -> int:
    global RECORD_FILE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", help="also append every message to this JSON-lines file")
    parser.add_argument("--pid-file")
    args = parser.parse_args()
    RECORD_FILE = args.record
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.pid_file:
        with open(args.pid_file, "w") as pid_file:
            pid_file.write(str(os.getpid()))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"slack stand-in on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
