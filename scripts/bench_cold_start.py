"""`make bench`: cold start of every function, and the size of its release zip.

Start-up time is measured from process start to the function's first poll of the Lambda Runtime
API (`GET /2018-06-01/runtime/invocation/next`), served here by a small stand-in; median of
RUNS starts. Beside each function, a minimal Python function that creates the same boto3
clients and then polls the same way. Targets: at most 25 ms median per function, and at least
4x faster than its Python counterpart.

Reads build/package/<name>/bootstrap.zip (`make package`). Writes build/bench/cold-start.json;
exits 1 when a target is missed.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "build" / "package"
OUT = REPO / "build" / "bench"
RUNS = int(os.environ.get("BENCH_COLD_RUNS", "20"))
MAX_MEDIAN_MS = 25.0
MIN_SPEEDUP = 4.0

COMMON = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
          "AWS_SECRET_ACCESS_KEY": "bench", "JOBS_TABLE": "jobs", "RUST_LOG": "warn"}
# Each function's configuration (what the template gives it) and the AWS clients it builds.
FUNCTIONS = {
    "intake": ({"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:0:stateMachine:jobs", "ALLOWED_DATA_BUCKETS": "data",
                "ALLOWED_IMAGE_REPOSITORIES": "0.dkr.ecr.us-east-1.amazonaws.com/recsys"},
               ["dynamodb", "stepfunctions", "s3"]),
    "api": ({"QUOTA_TABLE": "quota", "RECOMMENDATIONS_TABLE": "recommendations", "DATA_BUCKET": "data",
             "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:0:stateMachine:jobs", "ALLOWED_DATA_BUCKETS": "data",
             "ALLOWED_IMAGE_REPOSITORIES": "0.dkr.ecr.us-east-1.amazonaws.com/recsys",
             "UI_TOKEN_PARAMETER": "/recoflow/ui-token"},
            ["dynamodb", "stepfunctions", "s3", "ssm"]),
    "prepare": ({"RESULTS_BUCKET": "results"}, ["dynamodb", "s3"]),
    "runner": ({"QUOTA_TABLE": "quota", "QUOTA_LIMITS_PARAMETER": "/recoflow/quota-limits",
                "QUOTA_LIMITS_CACHE_SECONDS": "30", "RESULTS_BUCKET": "results", "POLL_SECONDS": "60", "MAX_POLL_SECONDS": "900",
                "SLOT_LEASE_SECONDS": "1800", "PHASE_TIMEOUT_SECONDS": "172800", "MAX_LAUNCH_ATTEMPTS": "3",
                "RELAUNCH_BASE_SECONDS": "60", "SAGEMAKER_ROLE_ARN": "arn:aws:iam::000000000000:role/sm",
                "PERSONALIZE_ROLE_ARN": "arn:aws:iam::000000000000:role/p",
                "PERSONALIZE_ARN_PREFIX": "arn:aws:personalize:us-east-1:000000000000"},
               ["dynamodb", "ssm", "sagemaker", "personalize"]),
    "deliver": ({"RECOMMENDATIONS_TABLE": "recommendations", "RESULTS_BUCKET": "results",
                 "RESULT_RETENTION_DAYS": "30", "DELIVER_BUDGET_SECONDS": "600", "MAX_SKIPPED_PERCENT": "5",
                 "DELIVERY_WRITE_UNITS_PER_SECOND": "10000"},
                ["dynamodb", "s3"]),
    "notify": ({"NOTIFICATIONS_TABLE": "notifications", "SLACK_WEBHOOK_PARAMETER": "/recoflow/slack-webhook",
                "API_URL_PARAMETER": "/recoflow/api-url", "STATE_FUNCTIONS": "RunPhases=runner",
                "SLACK_RETRY_BUDGET_SECONDS": "170", "FOLD_WINDOW_SECONDS": "60", "FOLD_MAX_MESSAGES": "3"},
               ["dynamodb", "s3", "ssm"]),
    "record-failure": ({}, ["dynamodb"]),
}

PYTHON_FUNCTION = """
import os, urllib.request, boto3
clients = [boto3.client(name) for name in os.environ["BENCH_CLIENTS"].split(",")]
urllib.request.urlopen("http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/next")
"""


class RuntimeApi:
    """Answers nothing but notes when the first poll arrives."""

    def __enter__(self):
        self.polled = threading.Event()
        events = self.polled

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):
                events.set()
                # Hold the poll open: the process is killed once its start is measured.
                time.sleep(2)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        return self

    def start_time(self, command: list, env: dict) -> float:
        """Milliseconds from process start to its first poll."""
        self.polled.clear()
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not self.polled.wait(20):
            process.kill()
            sys.exit(f"{command[0]} did not poll the Runtime API: {process.stderr.read().decode()[-500:]}")
        elapsed = (time.perf_counter() - started) * 1000
        process.kill()
        process.wait()
        return elapsed

    def __exit__(self, *_):
        self.server.shutdown()


def main() -> int:
    missing = [f for f in FUNCTIONS if not (PACKAGES / f / "bootstrap.zip").exists()]
    if missing:
        sys.exit(f"no release zips for {', '.join(missing)}: run `make package` first")
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp, RuntimeApi() as runtime:
        python_function = Path(tmp) / "function.py"
        python_function.write_text(PYTHON_FUNCTION)
        for name, (config, clients) in FUNCTIONS.items():
            with zipfile.ZipFile(PACKAGES / name / "bootstrap.zip") as zipped:
                bootstrap = Path(zipped.extract("bootstrap", Path(tmp) / name))
            bootstrap.chmod(0o755)
            env = dict(COMMON, **config, AWS_LAMBDA_RUNTIME_API=runtime.address, PATH=os.environ["PATH"],
                       AWS_LAMBDA_FUNCTION_NAME=name, AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
                       AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_STREAM_NAME="bench",
                       AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{name}", BENCH_CLIENTS=",".join(clients))
            rust = [runtime.start_time([str(bootstrap)], env) for _ in range(RUNS)]
            python = [runtime.start_time([sys.executable, str(python_function)], env) for _ in range(RUNS)]
            results[name] = {
                "zip_mb": (PACKAGES / name / "bootstrap.zip").stat().st_size / 2**20,
                "median_ms": statistics.median(rust),
                "python_median_ms": statistics.median(python),
                "clients": clients,
            }
    (OUT / "cold-start.json").write_text(json.dumps(results, indent=2))

    print(f"\ncold start: process start to first Runtime API poll, median of {RUNS}")
    print(f"  {'function':<16} {'zip':>7} {'Rust':>9} {'Python+boto3':>13} {'ratio':>7}   clients")
    missed = []
    for name, r in results.items():
        ratio = r["python_median_ms"] / r["median_ms"]
        print(f"  {name:<16} {r['zip_mb']:5.1f} MB {r['median_ms']:7.1f} ms {r['python_median_ms']:10.1f} ms {ratio:6.1f}x   {','.join(r['clients'])}")
        if r["median_ms"] > MAX_MEDIAN_MS:
            missed.append(f"{name}: {r['median_ms']:.1f} ms > {MAX_MEDIAN_MS} ms")
        if ratio < MIN_SPEEDUP:
            missed.append(f"{name}: only {ratio:.1f}x faster than Python")
    if missed:
        print("TARGETS MISSED: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
