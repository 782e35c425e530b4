"""Load bench of the local stack's DynamoDB (recoflow_moto): how fast Deliver's writes go and what
the publish step's calls cost once the recommendations table is big.

    .localstack-host/venv/bin/python localstack/probes/bench_dynamodb.py --items 400000
    AWS_ENDPOINT_URL=http://127.0.0.1:4740 ... --items 100000 --writers 4 --with-gets

Tables as infra/template.yaml makes them: a recommendations table (pk, GSIs VersionIndex and
ResultSetIndex, TTL on expires_at) and a jobs table (job_id, GSI RecentIndex). Phases:

1. BatchWriteItem of 25 segment items (PutRequest only, the shape Deliver writes), by --writers
   threads; with --with-gets each writer first reads its 100 keys with one BatchGetItem, as
   Deliver's writers do. Items/s is printed per --report-every items, so a slowdown with the
   table's size shows.
2. At that size: GetItem, UpdateItem, Query on VersionIndex, TransactWriteItems (a Put with a
   condition and a ConditionCheck on the jobs table), each --samples times: median and max ms.
3. GetItem latency while --writers threads write again (what the API sees during a delivery).

Not a probe of a capability (not run by the probe loop in CAPABILITIES.md); it leaves its tables
behind unless --delete.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from botocore.config import Config  # noqa: E402

from _common import aws, unique  # noqa: E402

BATCH = 25
GET_KEYS = 100


def client():
    return aws("dynamodb", Config(max_pool_connections=32, retries={"max_attempts": 10, "mode": "standard"},
                                  read_timeout=60))


def create_tables(ddb) -> tuple[str, str]:
    recs, jobs = unique("bench-recs"), unique("bench-jobs")
    ddb.create_table(
        TableName=recs, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                              for n in ("pk", "version_of", "version", "listing", "result_set")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "VersionIndex", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "version_of", "KeyType": "HASH"},
                           {"AttributeName": "version", "KeyType": "RANGE"}]},
            {"IndexName": "ResultSetIndex", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "listing", "KeyType": "HASH"},
                           {"AttributeName": "result_set", "KeyType": "RANGE"}]},
        ])
    ddb.update_time_to_live(TableName=recs, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    ddb.create_table(
        TableName=jobs, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("job_id", "listing", "created_at")],
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "RecentIndex", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "listing", "KeyType": "HASH"},
                           {"AttributeName": "created_at", "KeyType": "RANGE"}]}])
    return recs, jobs


def segment_item(i: int, run: str) -> dict:
    return {"pk": {"S": f"u#{run}#{i:08d}"}, "items": {"L": []}, "scores": {"L": []},
            "segment": {"S": f"seg-{i % 7}"}, "expires_at": {"N": str(int(time.time()) + 86400)}}


def write_range(ddb, table: str, run: str, start: int, stop: int, with_gets: bool, done: list) -> None:
    for first in range(start, stop, GET_KEYS):
        last = min(first + GET_KEYS, stop)
        if with_gets:
            keys = [{"pk": {"S": f"u#{run}#{i:08d}"}} for i in range(first, last)]
            while keys:
                answer = ddb.batch_get_item(RequestItems={table: {"Keys": keys}})
                keys = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        for batch in range(first, last, BATCH):
            writes = [{"PutRequest": {"Item": segment_item(i, run)}} for i in range(batch, min(batch + BATCH, last))]
            pending = {table: writes}
            while pending:
                pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            done[0] += len(writes)


def write_phase(ddb, table: str, run: str, offset: int, count: int, writers: int, with_gets: bool,
                report_every: int) -> float:
    """Writes `count` items from `offset` on; prints items/s per `report_every`; returns overall items/s."""
    done = [0]
    share = -(-count // writers)
    begin = time.monotonic()
    with ThreadPoolExecutor(writers) as pool:
        futures = [pool.submit(write_range, ddb, table, run, offset + w * share,
                               offset + min(count, (w + 1) * share), with_gets, done) for w in range(writers)]
        mark, mark_t = 0, begin
        while not all(f.done() for f in futures):
            time.sleep(0.5)
            if done[0] - mark >= report_every:
                now = time.monotonic()
                print(f"  {offset + done[0]:>8} items in table  {(done[0] - mark) / (now - mark_t):7.0f} items/s",
                      flush=True)
                mark, mark_t = done[0], now
        for f in futures:
            f.result()
    return count / (time.monotonic() - begin)


def timed(fn, samples: int) -> str:
    ms = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    return f"median {statistics.median(ms):8.1f} ms  max {max(ms):8.1f} ms"


def publish_calls(ddb, recs: str, jobs: str, samples: int) -> None:
    job = "job-bench"
    ddb.put_item(TableName=jobs, Item={"job_id": {"S": job}, "status": {"S": "DELIVERING"},
                                       "listing": {"S": "job"}, "created_at": {"S": "2026-12-01T00:00:00Z"}})
    for v in range(5):
        ddb.put_item(TableName=recs, Item={"pk": {"S": f"rsv#rs1#{v}"}, "version_of": {"S": "rs1"},
                                           "version": {"S": f"2026-12-01T00:00:0{v}Z"}})
    state = {"n": 0}

    def transact():
        state["n"] += 1
        ddb.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": jobs, "Key": {"job_id": {"S": job}},
                                "ConditionExpression": "#s = :d", "ExpressionAttributeNames": {"#s": "status"},
                                "ExpressionAttributeValues": {":d": {"S": "DELIVERING"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Put": {"TableName": recs, "Item": {"pk": {"S": "rs#rs1"}, "version": {"S": f"v{state['n']:06d}"}},
                     "ConditionExpression": "attribute_not_exists(pk) OR version <= :v",
                     "ExpressionAttributeValues": {":v": {"S": f"v{state['n']:06d}"}},
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])

    calls = {
        "GetItem": lambda: ddb.get_item(TableName=recs, Key={"pk": {"S": "rsv#rs1#3"}}),
        "UpdateItem": lambda: ddb.update_item(TableName=jobs, Key={"job_id": {"S": job}},
                                              UpdateExpression="SET note = :n",
                                              ExpressionAttributeValues={":n": {"S": "x"}}),
        "Query VersionIndex": lambda: ddb.query(TableName=recs, IndexName="VersionIndex",
                                                KeyConditionExpression="version_of = :rs",
                                                ExpressionAttributeValues={":rs": {"S": "rs1"}},
                                                ScanIndexForward=False, Limit=2),
        "TransactWriteItems": transact,
    }
    for name, fn in calls.items():
        print(f"  {name:<20} {timed(fn, samples)}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=400_000)
    p.add_argument("--writers", type=int, default=1)
    p.add_argument("--with-gets", action="store_true", help="each writer BatchGetItems its 100 keys first")
    p.add_argument("--report-every", type=int, default=50_000)
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--during-items", type=int, default=20_000, help="items written in phase 3 (0: skip it)")
    p.add_argument("--delete", action="store_true")
    args = p.parse_args()

    ddb = client()
    recs, jobs = create_tables(ddb)
    run = unique("r")
    print(f"phase 1: {args.items} items, {args.writers} writer(s){' + BatchGetItem' if args.with_gets else ''}",
          flush=True)
    rate = write_phase(ddb, recs, run, 0, args.items, args.writers, args.with_gets, args.report_every)
    print(f"  overall {rate:.0f} items/s", flush=True)

    print(f"phase 2: publish calls at {args.items} items", flush=True)
    publish_calls(ddb, recs, jobs, args.samples)

    if args.during_items:
        print(f"phase 3: GetItem while {args.writers} writer(s) write {args.during_items} more items", flush=True)
        stop = threading.Event()
        latencies: list[float] = []

        def read():
            reader = client()
            while not stop.is_set():
                t = time.perf_counter()
                reader.get_item(TableName=recs, Key={"pk": {"S": f"u#{run}#{len(latencies):08d}"}})
                latencies.append((time.perf_counter() - t) * 1000)
                time.sleep(0.05)

        thread = threading.Thread(target=read)
        thread.start()
        rate = write_phase(ddb, recs, run, args.items, args.during_items, args.writers, args.with_gets,
                           args.report_every)
        stop.set()
        thread.join()
        print(f"  writes {rate:.0f} items/s; GetItem x{len(latencies)}: median {statistics.median(latencies):.1f} ms,"
              f" max {max(latencies):.1f} ms", flush=True)

    if args.delete:
        ddb.delete_table(TableName=recs)
        ddb.delete_table(TableName=jobs)


if __name__ == "__main__":
    main()
