"""A traffic generator for a placement: simulated users through the API, each served the
placement's list once (GET /placements/{p}/{user}) and shown it on several visits, each visit an
impression that is clicked at its arm's CTR (a click names one of the list's items), posted in
batches of 500 (POST /events), two at a time, a batch answered 5xx sent again after a jittered
wait (at most 5 tries). Then the metrics route tells which arm is ahead.

  python scripts/traffic.py --api "$API" --placement home-top --users 3000 --visits 8 \
      --ctr control=0.04 --ctr candidate=0.06 [--seed 1] [--workers 8]

Used by `make demo` (scripts/demo.py) on an A/B placement of the demo's two result sets: with
3,000 users and 8 visits (about 12,000 impressions an arm), arm B at 6 % against A at 4 % shows
B ahead with an always-valid p < 0.01 in all but about 1 run in 5,000 (simulated: the unit test
`the_traffic_generators_design_finds_b_ahead_at_p_below_one_percent`); at 4 visits, 7 % of runs
missed it. Requests are signed (SigV4), as the API requires."""

import argparse
import json
import os
import random
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from requests_aws4auth import AWS4Auth

EVENTS_PER_REQUEST = 500
# Requests of events in flight at once: each is hundreds of conditional writes.
POSTS_IN_FLIGHT = 2
POST_ATTEMPTS = 5


def session() -> requests.Session:
    http = requests.Session()
    http.auth = AWS4Auth(os.environ.get("AWS_ACCESS_KEY_ID", "test"), os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
                         os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), "execute-api")
    return http


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def serve(http, base, placement, user):
    answer = http.get(f"{base}/placements/{placement}/{user}", timeout=30)
    answer.raise_for_status()
    return answer.json()


def events_of(served, visits, ctr_by_arm, rng, run):
    """The impressions of one user's visits and their clicks."""
    events = []
    ctr = ctr_by_arm.get(served["arm"], 0.0)
    items = [i["item_id"] for i in served.get("items", [])]
    for visit in range(visits):
        common = {"recommendation_id": served["recommendation_id"], "user_id": served["user_id"], "timestamp": now()}
        events.append({"event_id": f"{run}-{served['user_id']}-{visit}-i", "type": "impression", **common})
        if items and rng.random() < ctr:
            events.append({"event_id": f"{run}-{served['user_id']}-{visit}-c", "type": "click",
                           "item_id": rng.choice(items), **common})
    return events


def post_batch(http, base, batch, rng):
    """One POST /events; a 5xx (the API busy, or its function out of time) is sent again, as
    the API asks, after a jittered wait: events are counted once by their event_id."""
    for attempt in range(POST_ATTEMPTS):
        answer = http.post(f"{base}/events", data=json.dumps({"events": batch}),
                           headers={"content-type": "application/json"}, timeout=60)
        if answer.status_code < 500 or attempt == POST_ATTEMPTS - 1:
            break
        time.sleep(rng.uniform(0, 2 ** attempt))
    if answer.status_code != 202:
        raise RuntimeError(f"POST /events answered {answer.status_code}: {answer.text[:300]}")
    return answer.json()


def post_events(http, base, events, rng=None):
    rng = rng or random.Random()
    accepted = 0
    for start in range(0, len(events), EVENTS_PER_REQUEST):
        answer = post_batch(http, base, events[start:start + EVENTS_PER_REQUEST], rng)
        accepted += sum(1 for r in answer["results"] if r.get("status") in ("accepted", "duplicate"))
    return accepted


def run(base, placement, users, visits, ctr_by_arm, seed=1, workers=8, http=None):
    """Simulates the traffic; returns {arm: impressions served} and the events accepted."""
    http = http or session()
    base = base.rstrip("/")
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:8]
    names = [f"sim-{seed}-{i:05d}" for i in range(users)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        served = list(pool.map(lambda user: serve(http, base, placement, user), names))
    events, by_arm = [], {}
    for answer in served:
        by_arm[answer["arm"]] = by_arm.get(answer["arm"], 0) + visits
        events.extend(events_of(answer, visits, ctr_by_arm, rng, run_id))
    chunks = [events[i:i + EVENTS_PER_REQUEST] for i in range(0, len(events), EVENTS_PER_REQUEST)]
    with ThreadPoolExecutor(max_workers=min(workers, POSTS_IN_FLIGHT)) as pool:
        accepted = sum(pool.map(lambda chunk: post_events(http, base, chunk), chunks))
    return by_arm, accepted


def metrics(base, placement, http=None):
    http = http or session()
    answer = http.get(f"{base.rstrip('/')}/placements/{placement}/metrics", timeout=60)
    answer.raise_for_status()
    return answer.json()


def report(answer) -> str:
    lines = []
    for arm in answer["arms"]:
        total = arm["total"]
        ctr = total["ctr"]
        line = f"  {arm['arm']:<12} {total['impressions']:>6} impressions {total['clicks']:>5} clicks  CTR {100 * (ctr['value'] or 0):.2f} %"
        versus = (arm.get("versus_first") or {}).get("ctr")
        if versus:
            line += f"  vs first arm {100 * (versus['difference'] or 0):+.2f} points, p = {versus['p_value']:.2g}"
        lines.append(line)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True, help="the API's base URL (stack output ApiUrl)")
    parser.add_argument("--placement", required=True)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--visits", type=int, default=8)
    parser.add_argument("--ctr", action="append", default=[], metavar="ARM=RATE", help="an arm's click-through rate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    ctr_by_arm = {}
    for pair in args.ctr:
        arm, _, rate = pair.partition("=")
        try:
            ctr_by_arm[arm] = float(rate)
        except ValueError:
            parser.error(f"--ctr {pair!r}: expected ARM=RATE, such as candidate=0.06")
    by_arm, accepted = run(args.api, args.placement, args.users, args.visits, ctr_by_arm, args.seed, args.workers)
    print(f"served {args.users} users ({by_arm}), {accepted} events accepted")
    print(report(metrics(args.api, args.placement)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
