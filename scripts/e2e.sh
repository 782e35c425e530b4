#!/usr/bin/env bash
# The end-to-end suites (make e2e, part of make test) on fresh local stacks. The test files are
# split into shards; each shard gets a LocalStack of its own (own port, state directory, fault
# settings and Slack stand-in), deployed from build/lambda/, and the shards run side by side:
# the suites mostly wait on emulated jobs, so four stacks on two cores take little more than the
# longer shard. Ends with every shard's output, "N passed, N failed" and the total time; every
# LocalStack and stand-in it started is stopped, whatever happens.
#   scripts/e2e.sh                          # every shard
#   TESTS="tests/e2e/test_slack.py" scripts/e2e.sh    # just these, on one stack
# Env: TEST_PORT (4599; shard i uses TEST_PORT+10*i), TEST_SLACK_PORT (4598, likewise),
#      TEST_ROOT (.localstack-host/test-run), LOCALSTACK_VENV.
# Expects the functions built (scripts/build-functions.sh) and the venv installed.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
VENV="${LOCALSTACK_VENV:-$REPO_ROOT/.localstack-host/venv}"
TEST_PORT="${TEST_PORT:-4599}"
TEST_SLACK_PORT="${TEST_SLACK_PORT:-4598}"
TEST_ROOT="$(realpath -m "${TEST_ROOT:-$REPO_ROOT/.localstack-host/test-run}")"

# Tests that change a stack's global settings (fault injection, quota limits) run serially
# within their shard; shards never share a stack. Balanced by measured time (about equal).
if [[ -n "${TESTS:-}" ]]; then
  SHARDS=("$TESTS")
else
  SHARDS=(
    "tests/localstack_host tests/emulators tests/e2e/test_quota.py tests/e2e/test_failures.py
     tests/e2e/test_infra.py tests/e2e/test_freshness_and_held.py tests/e2e/test_schedules.py tests/e2e/test_quota_queue.py"
    "tests/e2e/test_jobs.py tests/e2e/test_running_jobs.py tests/e2e/test_slack.py tests/e2e/test_cli.py
     tests/e2e/test_idempotency.py tests/e2e/test_quality_gate.py tests/e2e/test_hostile_inputs.py tests/e2e/test_web_page.py
     tests/e2e/test_segments.py tests/e2e/test_placements.py tests/e2e/test_events.py"
    "tests/e2e/test_delivery.py tests/e2e/test_cancel.py tests/e2e/test_shared_result_set.py tests/e2e/test_result_sets.py
     tests/e2e/test_outputs.py tests/e2e/test_triggers_and_retries.py tests/e2e/test_monitoring.py"
    # The 200,000-user job alone: its stack is busy writing for minutes.
    "tests/e2e/test_scale.py"
  )
fi

started=$(date +%s)
rm -rf "$TEST_ROOT" && mkdir -p "$TEST_ROOT"

# free_disk: what is left on the test root's file system. Each stack holds its own copy of the
# functions' code; a full disk shows as a shard whose pytest writes nothing at all.
free_disk() { df -h --output=avail "$TEST_ROOT" | tail -1 | tr -d ' '; }
echo "e2e: ${#SHARDS[@]} shard(s); $(free_disk) free on the disk of $TEST_ROOT"

# run_shard I TESTS: one stack, its deploy, its tests; the result in $TEST_ROOT/shard-I/.
run_shard() {
  local i=$1 tests=$2
  local dir="$TEST_ROOT/shard-$i"
  local port=$((TEST_PORT + 10 * i)) slack_port=$((TEST_SLACK_PORT + 10 * i))
  mkdir -p "$dir"
  export LOCALSTACK_PORT=$port LOCALSTACK_HOST_DIR="$dir" LOCALSTACK_VENV="$VENV" \
    LOCALSTACK_ENDPOINT="http://127.0.0.1:$port" STACK_OUTPUTS="$dir/stack-outputs.json"
  # shellcheck disable=SC2064  # expanded now: this shard's stand-in and stack
  trap "localstack/host/stop.sh >>'$dir/stop.log' 2>&1; kill \$(cat '$dir/slack.pid' 2>/dev/null) 2>/dev/null || true" EXIT
  "$VENV/bin/python" scripts/slack_standin.py --port "$slack_port" --pid-file "$dir/slack.pid" >"$dir/slack.log" 2>&1 &
  localstack/host/start.sh >"$dir/start.log" 2>&1 || { echo "shard $i: LocalStack did not start"; tail -20 "$dir/start.log"; return 1; }
  SLACK_WEBHOOK_URL="http://127.0.0.1:$slack_port/services/recoflow-test" SKIP_BUILD=1 \
    STACK_OUTPUTS_FILE="$STACK_OUTPUTS" scripts/deploy-local.sh >"$dir/deploy.log" 2>&1 \
    || { echo "shard $i: deploy failed"; tail -40 "$dir/deploy.log"; return 1; }
  echo "shard $i: stack up on 127.0.0.1:$port after $(($(date +%s) - started)) s; running its tests"
  local rc=0
  # shellcheck disable=SC2086  # the shard's paths, split on spaces
  SLACK_STANDIN="http://127.0.0.1:$slack_port" \
    "$VENV/bin/pytest" -q -p no:cacheprovider --junitxml="$dir/junit.xml" $tests >"$dir/pytest.log" 2>&1 || rc=$?
  echo "$rc" >"$dir/pytest.rc"
  echo "shard $i: done after $(($(date +%s) - started)) s (pytest exit $rc; $(free_disk) free)"
}

pids=()
for i in "${!SHARDS[@]}"; do
  run_shard "$i" "${SHARDS[$i]}" &
  pids+=($!)
done
broken=0
for pid in "${pids[@]}"; do wait "$pid" || broken=1; done

for i in "${!SHARDS[@]}"; do
  if [[ -f "$TEST_ROOT/shard-$i/pytest.log" ]]; then
    echo "===== shard $i: ${SHARDS[$i]//$'\n'/ }" | tr -s ' '
    cat "$TEST_ROOT/shard-$i/pytest.log"
  fi
done
"$VENV/bin/python" - "$TEST_ROOT" "$(($(date +%s) - started))" "$broken" "${#SHARDS[@]}" <<'PY'
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

root, seconds, broken, shards = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
passed = failed = skipped = 0
for i in range(shards):
    shard = root / f"shard-{i}"
    junit, rc = shard / "junit.xml", shard / "pytest.rc"
    try:
        suites = list(ET.parse(junit).getroot().iter("testsuite"))
    except (OSError, ET.ParseError) as error:
        if not rc.exists():
            print(f"shard {i}: no results: its stack did not come up (see {shard}/start.log, deploy.log)")
        else:
            log = shard / "pytest.log"
            size = log.stat().st_size if log.exists() else 0
            print(
                f"shard {i}: no results: pytest exited {rc.read_text().strip()} and left "
                f"{'no' if not junit.exists() else 'an unreadable'} {junit.name} ({error}); "
                f"its log has {size} bytes; {shutil.disk_usage(root).free / 2**30:.1f} GiB free now"
            )
        broken = True
        continue
    for suite in suites:
        total, failures, errors = int(suite.get("tests")), int(suite.get("failures")), int(suite.get("errors"))
        skips = int(suite.get("skipped"))
        passed += total - failures - errors - skips
        failed += failures + errors
        skipped += skips
print(f"e2e: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "") + f" in {seconds // 60} min {seconds % 60} s")
sys.exit(1 if failed or broken else 0)
PY
