"""`make bench`: delivery within a write budget (`DeliveryWriteUnitsPerSecond`).

`fake-dynamodb` is made to enforce a table's write units a second (it refuses a batch the last
second's budget cannot cover with ProvisionedThroughputExceededException, as DynamoDB does);
N delivering processes (the Deliver step's own code through the real SDK adapter,
`bench-delivery run`) each get an equal share of it and write their users at once, as the
workers of one delivery do. For each size it measures the sustained write units a second
against the budget, the share of batches throttled, the time against items ÷ budget, and each
worker's peak RSS; then extrapolates to 50 million users at DynamoDB's default table quota.

Targets: sustained ≥ 90 % of the budget, throttled ≤ 1 %, time within 10 % of items ÷ budget,
peak RSS per worker ≤ 128 MiB. Writes build/bench/write_budget.json; exits 1 when one is missed.
Env: BENCH_WRITE_UNITS (default 40000), BENCH_WORKERS (4), BENCH_BUDGET_USERS (comma-separated
sizes, default "1000000,10000000"; the scores file of a worker's share is generated once and
kept in build/bench/).
"""

import json
import os
import subprocess
import sys
import time

from bench_delivery import BIN, CREDENTIALS, OUT, FakeDynamoDb, scores_file

BUDGET = int(os.environ.get("BENCH_WRITE_UNITS", "40000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
SIZES = [int(n) for n in os.environ.get("BENCH_BUDGET_USERS", "1000000,10000000").split(",")]
# DynamoDB's default table quota (write units a second, on demand) and the template's default.
TABLE_QUOTA = 40_000
DEFAULT_BUDGET = 10_000
MIN_SHARE, MAX_THROTTLED, MAX_TIME_OVER, MAX_RSS_MIB = 0.90, 0.01, 0.10, 128


def budgeted_delivery(users: int) -> dict:
    share = users // WORKERS
    scores = scores_file(share)
    env = dict(os.environ, **CREDENTIALS, WRITE_UNITS_PER_SECOND=str(BUDGET // WORKERS))
    with FakeDynamoDb(BUDGET) as fake:
        started = time.monotonic()
        workers = [subprocess.Popen([BIN / "bench-delivery", "run", scores, fake.endpoint, "bench"],
                                    stdout=subprocess.PIPE, text=True, env=env) for _ in range(WORKERS)]
        outputs = [worker.communicate()[0] for worker in workers]
        seconds = time.monotonic() - started
        if any(worker.returncode for worker in workers):
            sys.exit(f"a delivering worker failed: {[w.returncode for w in workers]}")
        stats = fake.stats()
    runs = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    batches = stats["batch_writes"] + stats["throttled"]
    ideal = stats["write_units"] / BUDGET
    return {
        "users": share * WORKERS, "workers": WORKERS, "budget": BUDGET, "seconds": seconds,
        "write_units": stats["write_units"], "units_per_user": stats["write_units"] / (share * WORKERS),
        "sustained_units_per_second": stats["write_units"] / seconds,
        "share_of_budget": stats["write_units"] / seconds / BUDGET,
        "throttled_batches": stats["throttled"], "throttled_share": stats["throttled"] / max(batches, 1),
        "ideal_seconds": ideal, "time_over_ideal": seconds / ideal - 1,
        "peak_rss_mib_per_worker": max(r["peak_rss_kib"] for r in runs) / 1024,
    }


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    results = {"runs": [budgeted_delivery(users) for users in SIZES]}
    largest = results["runs"][-1]
    # 50 million users at the measured units a user and share of the budget reached.
    units = 50_000_000 * largest["units_per_user"]
    results["extrapolated_50m"] = {
        f"budget_{budget}": units / (budget * largest["share_of_budget"]) / 60
        for budget in (TABLE_QUOTA, DEFAULT_BUDGET)
    }
    (OUT / "write_budget.json").write_text(json.dumps(results, indent=2))

    print(f"\ndelivery within a write budget of {BUDGET:,} units/s over {WORKERS} workers (fake-dynamodb throttling above it)")
    missed = []
    for r in results["runs"]:
        print(f"  {r['users']:>11,} users  {r['seconds']:7.1f} s (ideal {r['ideal_seconds']:.1f} s, {r['time_over_ideal']:+.1%})"
              f"  {r['sustained_units_per_second']:>8,.0f} units/s ({r['share_of_budget']:.1%} of the budget)"
              f"  throttled {r['throttled_share']:.2%}  peak RSS {r['peak_rss_mib_per_worker']:.1f} MiB a worker")
        if r["share_of_budget"] < MIN_SHARE:
            missed.append(f"{r['users']:,} users: {r['share_of_budget']:.1%} of the budget < {MIN_SHARE:.0%}")
        if r["throttled_share"] > MAX_THROTTLED:
            missed.append(f"{r['users']:,} users: {r['throttled_share']:.2%} throttled > {MAX_THROTTLED:.0%}")
        if abs(r["time_over_ideal"]) > MAX_TIME_OVER:
            missed.append(f"{r['users']:,} users: time {r['time_over_ideal']:+.1%} off items ÷ budget")
        if r["peak_rss_mib_per_worker"] > MAX_RSS_MIB:
            missed.append(f"{r['users']:,} users: {r['peak_rss_mib_per_worker']:.1f} MiB > {MAX_RSS_MIB} MiB a worker")
    e = results["extrapolated_50m"]
    print(f"  50,000,000 users: {e[f'budget_{TABLE_QUOTA}']:.0f} min at the table's default quota ({TABLE_QUOTA:,} units/s), "
          f"{e[f'budget_{DEFAULT_BUDGET}']:.0f} min at the default budget ({DEFAULT_BUDGET:,})")
    print(f"results: {OUT / 'write_budget.json'}")
    if missed:
        print("TARGETS MISSED: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
