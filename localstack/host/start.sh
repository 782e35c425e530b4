#!/usr/bin/env bash
# Starts LocalStack 4.9.2 on the host (no Docker) in the background, on 127.0.0.1:4566 only.
#   localstack/host/start.sh            # installs/updates the venv first (fast when unchanged)
# Succeeds at once if a LocalStack started by this script (pid in $HOST_DIR/localstack.pid) is
# already healthy. Waits up to LOCALSTACK_START_TIMEOUT seconds (default 90) for
# /_localstack/health; on failure prints the log tail and exits non-zero.
# Env: LOCALSTACK_HOST_DIR (default <repo>/.localstack-host); LOCALSTACK_PORT (4566);
#      any LocalStack setting (LS_LOG, SERVICES, ...) and RECOFLOW_* variables pass through.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# absolute, so start.sh and stop.sh agree on the marker below however the path is spelled
HOST_DIR="$(realpath -m "${LOCALSTACK_HOST_DIR:-$REPO_ROOT/.localstack-host}")"
VENV="${LOCALSTACK_VENV:-$HOST_DIR/venv}"
PORT="${LOCALSTACK_PORT:-4566}"
PID_FILE="$HOST_DIR/localstack.pid"
LOG_FILE="$HOST_DIR/localstack.log"
TIMEOUT="${LOCALSTACK_START_TIMEOUT:-90}"
HEALTH_URL="http://127.0.0.1:$PORT/_localstack/health"

healthy() {
  "$VENV/bin/python" - "$HEALTH_URL" <<'PY' >/dev/null 2>&1
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
    json.load(r)
PY
}
# the pid file names a live LocalStack runtime (not a reused pid)
our_pid_alive() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF localstack.runtime.main
}

# one start.sh at a time per host dir (engineers and make may call it concurrently)
mkdir -p "$HOST_DIR"
exec 9>"$HOST_DIR/start.lock"
flock -w 300 9 || { echo "start.sh: another start.sh/stop.sh holds $HOST_DIR/start.lock" >&2; exit 1; }

"$REPO_ROOT/localstack/host/install.sh"

STARTED_WITH="$HOST_DIR/localstack.install-stamp"   # install stamp the running LocalStack loaded
if our_pid_alive; then
  if healthy; then
    echo "start.sh: LocalStack already running (pid $(cat "$PID_FILE")) on 127.0.0.1:$PORT"
    if ! cmp -s "$STARTED_WITH" "$VENV/.recoflow-install-stamp"; then
      echo "start.sh: WARNING: the extension changed since it started; to load it: localstack/host/stop.sh && localstack/host/start.sh" >&2
    fi
    exit 0
  fi
  echo "start.sh: LocalStack pid $(cat "$PID_FILE") is running but not healthy yet; waiting" >&2
else
  rm -f "$PID_FILE"
  if healthy; then
    echo "start.sh: port $PORT already serves a LocalStack not started by this script; not starting another" >&2
    echo "start.sh: stop it, or set LOCALSTACK_PORT to use another port" >&2
    exit 1
  fi
  mkdir -p "$HOST_DIR"/{filesystem,lambda-logs,lambda-pids,job-pids,sagemaker-jobs}
  # function processes left over from a LocalStack that died without stopping them
  "$REPO_ROOT/localstack/host/stop.sh" --functions-only >/dev/null 2>&1 9>&- || true

  export GATEWAY_LISTEN="127.0.0.1:$PORT"
  # twisted (the default server) binds 0.0.0.0 whatever GATEWAY_LISTEN says; hypercorn honours it
  export GATEWAY_SERVER=hypercorn
  export SKIP_SSL_CERT_DOWNLOAD=1
  export LAMBDA_RUNTIME_EXECUTOR=recoflow-host
  export PROVIDER_OVERRIDE_DYNAMODB="${PROVIDER_OVERRIDE_DYNAMODB:-recoflow_moto}"
  # Scheduler requests checked as the service checks them (the extension fires schedules either way)
  export PROVIDER_OVERRIDE_SCHEDULER="${PROVIDER_OVERRIDE_SCHEDULER:-recoflow}"
  export FILESYSTEM_ROOT="$HOST_DIR/filesystem"
  # LocalStack runs on the host: its tmp and state dirs then live under FILESYSTEM_ROOT, one set
  # per instance (a /.dockerenv on the machine would otherwise make it share /tmp/localstack
  # with every other instance, and each shutdown clears it). S3 data: isolation.py.
  export OVERRIDE_IN_DOCKER=0
  # plux (LocalStack's plugin loader) caches its entry-point index in the user's cache dir and
  # writes it without a lock: LocalStacks started side by side on a fresh install read each
  # other's half-written index ("No component plugins found"). One cache per instance.
  export XDG_CACHE_HOME="$HOST_DIR/cache"
  export RECOFLOW_LAMBDA_LOG_DIR="$HOST_DIR/lambda-logs"
  export RECOFLOW_LAMBDA_PID_DIR="$HOST_DIR/lambda-pids"
  # SageMaker emulator job directories (otherwise they pile up in /tmp)
  export RECOFLOW_SAGEMAKER_WORKDIR="${RECOFLOW_SAGEMAKER_WORKDIR:-$HOST_DIR/sagemaker-jobs}"
  # pids of running SageMaker job commands, for stop.sh
  export RECOFLOW_JOB_PID_DIR="$HOST_DIR/job-pids"
  export PERSISTENCE=0
  export DISABLE_EVENTS=1
  export LOCALSTACK_TELEMETRY_DISABLED=1  # harmless if unknown to this version
  export DNS_ADDRESS=0                    # no DNS server (would need port 53)
  export EAGER_SERVICE_LOADING="${EAGER_SERVICE_LOADING:-0}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

  echo "start.sh: starting LocalStack on 127.0.0.1:$PORT (log $LOG_FILE)"
  # setsid: own process group, so stop.sh can signal LocalStack and all its helpers at once
  setsid "$VENV/bin/python" -m localstack.runtime.main >"$LOG_FILE" 2>&1 </dev/null 9>&- &
  echo $! > "$PID_FILE"
  cp "$VENV/.recoflow-install-stamp" "$STARTED_WITH"
fi

start_ts=$SECONDS
while (( SECONDS - start_ts < TIMEOUT )); do
  # kill -0, not our_pid_alive: just after the fork the child has not exec'd python yet, so its
  # command line does not name LocalStack for a moment.
  if ! kill -0 "$(cat "$PID_FILE" 2>/dev/null || echo 0)" 2>/dev/null; then
    echo "start.sh: LocalStack exited during startup; last log lines:" >&2
    tail -n 40 "$LOG_FILE" >&2 || true
    rm -f "$PID_FILE"
    exit 1
  fi
  if healthy && grep -q "Ready\." "$LOG_FILE" 2>/dev/null; then
    echo "start.sh: LocalStack ready on http://127.0.0.1:$PORT (pid $(cat "$PID_FILE"), $((SECONDS - start_ts))s)"
    exit 0
  fi
  sleep 1
done
echo "start.sh: LocalStack not healthy after ${TIMEOUT}s; last log lines:" >&2
tail -n 40 "$LOG_FILE" >&2 || true
exit 1
