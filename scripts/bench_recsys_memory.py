"""`make bench`: peak memory of the reference container's batch modes (containers/recsys) for 10k
and 100k users against the same model: `score` (users' lists) and `audience` (the best 1000
users of 10 items, from those users). Both stream their users, so peak memory must not grow with
the number of users; exits 1 if it grows by more than 25%. `similar` (every item's neighbours)
is timed once.

Data: `recsys gen --users 100000` (deterministic), trained once.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECSYS = REPO / "target" / os.environ.get("CARGO_PROFILE", "local") / "recsys"
ALLOWED_GROWTH = 1.25


def run(args, env=None):
    """Runs a command; returns (seconds, peak RSS in MiB) of that process alone."""
    start = time.monotonic()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(map(str, args))} failed with status {status}")
    return time.monotonic() - start, usage.ru_maxrss / 1024


def main() -> int:
    if not RECSYS.exists():
        sys.exit(f"{RECSYS} is missing: run scripts/build-functions.sh")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        run([RECSYS, "gen", "--users", "100000", "--items", "2000", "--out", data])
        model = tmp / "model"
        env = dict(os.environ, SM_CHANNEL_INTERACTIONS=str(data / "interactions.csv"),
                   SM_CHANNEL_USERS=str(data / "users.csv"), SM_MODEL_DIR=str(model),
                   SM_OUTPUT_DATA_DIR=str(tmp / "train-out"), SM_OUTPUT_DIR=str(tmp / "train-fail"),
                   RECSYS_OPT_ML=str(tmp / "opt-ml"))
        seconds, rss = run([RECSYS, "train"], env)
        print(f"train   100000 users: {seconds:6.1f} s, peak {rss:7.1f} MiB")

        lines = (data / "users-to-score.jsonl").read_text().splitlines(keepends=True)
        items = tmp / "items.jsonl"
        items.write_text("".join(f'{{"itemId":"i{i:04}"}}\n' for i in range(0, 100, 10)))
        every_item = tmp / "every-item.jsonl"
        every_item.write_text("".join(f'{{"itemId":"i{i:04}"}}\n' for i in range(2000)))
        failing = dict(env, SM_OUTPUT_DIR=str(tmp / "score-fail"))
        results = {"score": {}, "audience": {}}
        for users in (10_000, 100_000):
            batch = tmp / f"score-{users}"
            batch.mkdir()
            (batch / "users.jsonl").write_text("".join(lines[:users]))
            seconds, rss = run([RECSYS, "score", "--model-dir", model, "--input", batch / "users.jsonl",
                                "--output", tmp / f"out-{users}"], failing)
            results["score"][users] = rss
            print(f"score    {users:>7} users: {seconds:6.1f} s, peak {rss:7.1f} MiB")
            seconds, rss = run([RECSYS, "audience", "--model-dir", model, "--items", items,
                                "--users", batch / "users.jsonl", "--num-results", "1000",
                                "--output", tmp / f"audience-{users}"], failing)
            answered = (tmp / f"audience-{users}" / "items.jsonl.out").read_text()
            if '"error":null' not in answered:
                sys.exit(f"audience answered only errors: {answered[:300]}")
            results["audience"][users] = rss
            print(f"audience {users:>7} users: {seconds:6.1f} s, peak {rss:7.1f} MiB (10 items, 1000 users each)")
        seconds, rss = run([RECSYS, "similar", "--model-dir", model, "--input", every_item,
                            "--output", tmp / "similar"], failing)
        print(f"similar     2000 items: {seconds:6.1f} s, peak {rss:7.1f} MiB")
    worst = 0.0
    for mode, peaks in results.items():
        growth = peaks[100_000] / peaks[10_000]
        worst = max(worst, growth)
        print(f"{mode}: peak memory 100k / 10k users: {growth:.2f} (allowed {ALLOWED_GROWTH})")
    return 0 if worst <= ALLOWED_GROWTH else 1


if __name__ == "__main__":
    sys.exit(main())
