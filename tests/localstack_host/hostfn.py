"""Helpers for the host-mode LocalStack tests: deploy a Lambda whose `bootstrap` is a small Python
script speaking the Lambda Runtime API (no Rust build needed).

The stack must already run (localstack/host/start.sh); these fixtures start nothing.
"""

import io
import json
import os
import sys
import time
import uuid
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST_DIR = Path(os.environ.get("LOCALSTACK_HOST_DIR", REPO_ROOT / ".localstack-host"))
LAMBDA_LOG_DIR = HOST_DIR / "lambda-logs"
ROLE_ARN = "arn:aws:iam::000000000000:role/recoflow-test-lambda"

# The event says what the function does; one script covers every behaviour under test.
# It runs with the interpreter running pytest (the host-mode venv), so it can use boto3.
BOOTSTRAP = '''#!{python}
import json, os, sys, tempfile, time, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
ENV_KEYS = ["AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "LAMBDA_TASK_ROOT",
            "_HANDLER", "RECOFLOW_TEST_VAR"]

def post(path, body, headers=None):
    req = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST",
                                 headers=headers or {{}})
    urllib.request.urlopen(req).read()

def count_call(key):
    path = os.path.join(tempfile.gettempdir(), "recoflow-test-" + key)
    n = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(n))
    return n

if os.environ.get("RECOFLOW_TEST_INIT_FAIL"):
    post("/init/error", {{"errorType": "ConfigMissing", "errorMessage": "RECOFLOW_TEST_INIT_FAIL set"}},
         {{"Lambda-Runtime-Function-Error-Type": "ConfigMissing"}})
    sys.exit(1)

print("init pid", os.getpid(), flush=True)
while True:
    with urllib.request.urlopen(API + "/invocation/next") as resp:
        request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline = resp.headers["Lambda-Runtime-Deadline-Ms"]
        arn = resp.headers["Lambda-Runtime-Invoked-Function-Arn"]
        event = json.loads(resp.read() or b"null")
    action = event.get("action", "echo") if isinstance(event, dict) else "echo"
    if action == "log":
        print("stdout-line", event["marker"], flush=True)
        print("stderr-line", event["marker"], file=sys.stderr, flush=True)
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "crash":
        print("crashing on purpose", flush=True)
        os._exit(3)
    if action == "fail" or (action == "flaky" and count_call(event["key"]) <= event["fail_times"]):
        post("/invocation/" + request_id + "/error",
             {{"errorType": event["errorType"], "errorMessage": "failed on purpose"}},
             {{"Lambda-Runtime-Function-Error-Type": event["errorType"]}})
        continue
    if isinstance(event, dict) and "Records" in event:
        print("event-records", json.dumps(event), flush=True)
    if action == "http" or "httpMethod" in event:
        body = {{"path": event.get("path"), "method": event.get("httpMethod"), "pid": os.getpid()}}
        post("/invocation/" + request_id + "/response",
             {{"statusCode": 200, "headers": {{"content-type": "application/json"}},
               "body": json.dumps(body)}})
        continue
    post("/invocation/" + request_id + "/response",
         {{"echo": event, "pid": os.getpid(), "deadline_ms": deadline, "arn": arn,
           "cwd": os.getcwd(), "env": {{k: os.environ.get(k) for k in ENV_KEYS}}}})
'''


def bootstrap_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        zf.writestr(info, BOOTSTRAP.format(python=sys.executable))
    return buf.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def invoke(aws, name: str, event) -> tuple[dict, str | None]:
    resp = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(resp["Payload"].read() or b"null"), resp.get("FunctionError")


def wait_for(predicate, timeout: float = 30, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    return last
