#!/usr/bin/env bash
# Stops the LocalStack started by start.sh (by the pid in $HOST_DIR/localstack.pid, whole process
# group: TERM, then KILL after LOCALSTACK_STOP_TIMEOUT seconds) and every Lambda function process
# the recoflow-host executor started (pid files in $HOST_DIR/lambda-pids), and SageMaker emulator
# job commands still running ($HOST_DIR/job-pids), then removes the functions' unpacked code
# (under the instance's tmp dir). Never kills by name.
# Safe to call when nothing runs.  --functions-only: only the function processes.
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# absolute, so start.sh and stop.sh agree on the marker below however the path is spelled
HOST_DIR="$(realpath -m "${LOCALSTACK_HOST_DIR:-$REPO_ROOT/.localstack-host}")"
PID_FILE="$HOST_DIR/localstack.pid"
FN_PID_DIR="$HOST_DIR/lambda-pids"
JOB_PID_DIR="$HOST_DIR/job-pids"
TIMEOUT="${LOCALSTACK_STOP_TIMEOUT:-15}"

# is_ours PID MARKER: the live process PID has MARKER in its command line or environment, so a
# pid file left behind and a pid number since reused by something else is never signalled.
is_ours() {
  local pid=$1 marker=$2
  [[ -r /proc/$pid/cmdline ]] || return 1
  # braces: a process that just died makes the redirection itself fail, which is "not ours"
  { tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$marker" && return 0
  { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qF -- "$marker"
}

# kill_group PID SECONDS: TERM the process group led by PID (or PID alone), KILL if it lingers.
kill_group() {
  local pid=$1 wait_s=$2 target
  if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then target="-$pid"; else target="$pid"; fi
  kill -TERM -- "$target" 2>/dev/null
  for ((i = 0; i < wait_s * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "$target" 2>/dev/null
  return 0
}

if [[ "${1:-}" != "--functions-only" ]]; then
  # not while a start.sh is bringing LocalStack up
  mkdir -p "$HOST_DIR"
  exec 9>"$HOST_DIR/start.lock"
  flock -w 300 9 || echo "stop.sh: $HOST_DIR/start.lock still held; stopping anyway" >&2
fi

if [[ "${1:-}" != "--functions-only" && -f "$PID_FILE" ]]; then
  pid="$(cat "$PID_FILE")"
  # The exact pid dir start.sh gave it: a stale pid now used by another LocalStack (another host
  # dir) is left alone.
  if [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid" "localstack.runtime.main" \
    && { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF -- "RECOFLOW_LAMBDA_PID_DIR=$FN_PID_DIR"; then
    echo "stop.sh: stopping LocalStack (pid $pid)"
    kill_group "$pid" "$TIMEOUT"
  fi
  rm -f "$PID_FILE"
fi

if [[ -d "$FN_PID_DIR" ]]; then
  for f in "$FN_PID_DIR"/*; do
    [[ -f "$f" ]] || continue
    pid="$(basename "$f")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid" "AWS_LAMBDA_RUNTIME_API="; then
      # each function process leads its own process group (started with a new session)
      kill_group "$pid" 3
    fi
    rm -f "$f"
  done
fi
# SageMaker emulator job commands left running by a LocalStack that died without stopping them
if [[ -d "$JOB_PID_DIR" ]]; then
  for f in "$JOB_PID_DIR"/*; do
    [[ -f "$f" ]] || continue
    pid="$(basename "$f")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid" "RECOFLOW_JOB_PID_DIR=$JOB_PID_DIR"; then
      kill_group "$pid" 3
    fi
    rm -f "$f"
  done
fi
# the stopped instance's unpacked function code (the extension puts it in the instance's tmp dir)
if [[ "${1:-}" != "--functions-only" ]]; then
  rm -rf "$HOST_DIR/filesystem/tmp/localstack/lambda"
fi
exit 0
