"""`make bench`: delivery of scores into DynamoDB, and the recommendations API.

Delivery (the Deliver step's own code, `tools/bench bench-delivery`, through the real SDK
adapter; scores read from a local file so the figure is the writing path's):
  (a) into the local stack's recommendations table (LocalStack's DynamoDB, moto);
  (b) into `fake-dynamodb`, an endpoint that answers at once, at two input sizes, so the figure
      is our code's and the peak RSS can be compared;
  and an equivalent Python boto3 `batch_writer` loader of the same file into (b).
Targets: (b) at least 5x the boto3 loader's users/s; peak RSS under 64 MiB at both sizes.

Recommendations API: the handler in process (`bench-api`), and GET /recommendations through the
local API Gateway against what (a) published: p50/p99 latency and requests/s.

Writes build/bench/delivery.json; exits 1 when a target is missed.
Env: BENCH_USERS (default 1000000), BENCH_STACK_USERS (default 100000: moto is slow and holds
every item in memory), BENCH_BOTO3_USERS (default 100000, the first users of the same file: the
loader's rate is steady, and a million users would take it some 18 minutes).
"""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / os.environ.get("BENCH_PROFILE", "bench-opt")
OUT = REPO / "build" / "bench"
USERS = int(os.environ.get("BENCH_USERS", "1000000"))
STACK_USERS = int(os.environ.get("BENCH_STACK_USERS", "100000"))
BOTO3_USERS = int(os.environ.get("BENCH_BOTO3_USERS", str(min(USERS, 100000))))
SMALL = max(USERS // 10, 1000)
MAX_RSS_MIB = 64
MIN_SPEEDUP = 5.0
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def scores_file(users: int) -> Path:
    path = OUT / f"scores-{users}.jsonl"
    if not path.exists():
        subprocess.run([BIN / "bench-delivery", "gen", str(users), path], check=True)
    return path


def deliver(scores: Path, endpoint: str, table: str, jobs_table: str | None = None) -> dict:
    """jobs_table: a real stack's, where the job's record is kept (the pointer's publish checks
    the job's status there); the fake endpoint needs none."""
    env = dict(os.environ, **CREDENTIALS)
    extra = ["8", jobs_table] if jobs_table else []
    line = subprocess.run([BIN / "bench-delivery", "run", scores, endpoint, table, *extra],
                          check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(line.strip().splitlines()[-1])


class FakeDynamoDb:
    """`fake-dynamodb` on a free port; given write_units, it throttles above that many a second."""

    def __init__(self, write_units: int | None = None):
        self.budget = [str(write_units)] if write_units else []

    def __enter__(self):
        self.process = subprocess.Popen([BIN / "fake-dynamodb", "0", *self.budget], stdout=subprocess.PIPE, text=True)
        self.endpoint = f"http://127.0.0.1:{self.process.stdout.readline().split()[1]}"
        return self

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.endpoint}/stats", timeout=10) as response:
            return json.load(response)

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait()


def boto3_loader(scores: Path, users: int, endpoint: str) -> dict:
    """What a hand-built pipeline does: boto3's batch_writer, one item per user."""
    table = boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test").Table("bench")
    started = time.monotonic()
    written = 0
    with table.batch_writer() as writer, scores.open() as lines:
        for line in lines:
            if written >= users:
                break
            row = json.loads(line)
            if row.get("error"):
                continue
            output = row["output"]
            writer.put_item(Item={
                "pk": f"u#bench#v1#{row['input']['userId']}",
                "items": output["recommendedItems"],
                "scores": [Decimal(str(s)) for s in output["scores"]],
                "expires_at": 2_000_000_000,
            })
            written += 1
    seconds = time.monotonic() - started
    return {"users": written, "seconds": seconds, "users_per_second": written / seconds}


def run_make_env(port: int, host_dir: Path) -> dict:
    return dict(os.environ, LOCALSTACK_PORT=str(port), LOCALSTACK_HOST_DIR=str(host_dir),
                LOCALSTACK_VENV=str(REPO / ".localstack-host" / "venv"),
                LOCALSTACK_ENDPOINT=f"http://127.0.0.1:{port}", **CREDENTIALS)


def api_through_gateway(api_url: str, result_set: str, requests: int = 2000, threads: int = 8) -> dict:
    """GET /recommendations through LocalStack's API Gateway (unsigned: the local stack does not
    check SigV4), a mix of personalized, segment and global answers."""
    paths = [f"{api_url}/recommendations/{result_set}/user-{i:08d}?n=10" for i in range(0, 1000, 7)]
    paths += [f"{api_url}/recommendations/{result_set}/new-user?gender=F&n=10",
              f"{api_url}/recommendations/{result_set}/stranger?n=10"]
    latencies, lock = [], threading.Lock()

    def worker(count: int):
        for i in range(count):
            started = time.monotonic()
            with urllib.request.urlopen(paths[i % len(paths)], timeout=30) as response:
                response.read()
                assert response.status == 200
            with lock:
                latencies.append(time.monotonic() - started)

    for _ in range(2):  # warm the function instances
        worker(len(paths) // 10)
    latencies.clear()
    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(requests // threads,)) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    seconds = time.monotonic() - started
    latencies.sort()
    return {"requests": len(latencies), "threads": threads,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
            "requests_per_second": len(latencies) / seconds}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    big, small = scores_file(USERS), scores_file(SMALL)

    with FakeDynamoDb() as fake:
        results["fake_endpoint_small"] = deliver(small, fake.endpoint, "bench")
        results["fake_endpoint"] = deliver(big, fake.endpoint, "bench")
        stats = fake.stats()
        expected = SMALL + USERS
        # One put per user, plus each run's few fallback lists and its pointer.
        if not expected <= stats["put_requests"] <= expected + 10:
            sys.exit(f"the fake endpoint received {stats['put_requests']} puts; expected {expected} user lists and a few more")
        results["boto3_batch_writer"] = boto3_loader(big, BOTO3_USERS, fake.endpoint)

    # (a) and the API through API Gateway: a local stack of its own, deployed with the built functions.
    port, host_dir = 4610, REPO / ".localstack-host" / "bench"
    env = run_make_env(port, host_dir)
    outputs_file = REPO / "build" / "bench-stack-outputs.json"
    try:
        subprocess.run([REPO / "localstack/host/start.sh"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run([REPO / "scripts/deploy-local.sh"], check=True, stdout=subprocess.DEVNULL,
                       env=dict(env, SKIP_BUILD="1", STACK_OUTPUTS_FILE=str(outputs_file)))
        outputs = json.loads(outputs_file.read_text())
        stack_scores = scores_file(STACK_USERS)
        results["local_stack"] = deliver(stack_scores, env["LOCALSTACK_ENDPOINT"], outputs["RecommendationsTable"],
                                         outputs["JobsTable"])
        results["api_through_gateway"] = api_through_gateway(outputs["ApiUrl"], "spring")
    finally:
        subprocess.run([REPO / "localstack/host/stop.sh"], env=env, stdout=subprocess.DEVNULL)

    api = subprocess.run([BIN / "bench-api", "30000"], check=True, capture_output=True, text=True).stdout
    results["api_in_process"] = json.loads(api.strip().splitlines()[-1])
    (OUT / "delivery.json").write_text(json.dumps(results, indent=2))

    fake_rate = results["fake_endpoint"]["users_per_second"]
    boto3_rate = results["boto3_batch_writer"]["users_per_second"]
    speedup = fake_rate / boto3_rate
    rss = [results[k]["peak_rss_kib"] / 1024 for k in ("fake_endpoint_small", "fake_endpoint")]
    print(f"\ndelivery (one item per user, 25 recommended items each; peak RSS of the delivering process)")
    for name, key in [("(b) fake endpoint", "fake_endpoint_small"), ("(b) fake endpoint", "fake_endpoint"),
                      ("(a) local stack (moto)", "local_stack")]:
        r = results[key]
        print(f"  {name:24} {r['users']:>9,} users  {r['seconds']:7.1f} s  {r['users_per_second']:>9,.0f} users/s"
              f"  peak RSS {r['peak_rss_kib'] / 1024:5.1f} MiB")
    b = results["boto3_batch_writer"]
    print(f"  {'boto3 batch_writer (b)':24} {b['users']:>9,} users  {b['seconds']:7.1f} s  {b['users_per_second']:>9,.0f} users/s")
    print(f"  speed-up over boto3: {speedup:.1f}x (target {MIN_SPEEDUP:.0f}x); peak RSS {rss[0]:.1f} / {rss[1]:.1f} MiB "
          f"for {SMALL:,} / {USERS:,} users (target < {MAX_RSS_MIB} MiB)")
    a, g = results["api_in_process"], results["api_through_gateway"]
    print("\nrecommendations API")
    print(f"  in process:           p50 {a['p50_us']:8.1f} us  p99 {a['p99_us']:8.1f} us  {a['requests_per_second']:>9,.0f} req/s (one thread)")
    print(f"  through API Gateway:  p50 {g['p50_ms']:8.1f} ms  p99 {g['p99_ms']:8.1f} ms  {g['requests_per_second']:>9,.0f} req/s ({g['threads']} clients)")
    print(f"\nresults: {OUT / 'delivery.json'}")

    missed = []
    if speedup < MIN_SPEEDUP:
        missed.append(f"speed-up {speedup:.1f}x < {MIN_SPEEDUP}x")
    if max(rss) >= MAX_RSS_MIB:
        missed.append(f"peak RSS {max(rss):.1f} MiB >= {MAX_RSS_MIB} MiB")
    if missed:
        print("TARGETS MISSED: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
