#!/usr/bin/env bash
# Deploys infra/template.yaml to the running local stack (idempotent: an unchanged stack is
# left as is). Writes the stack outputs to build/stack-outputs.json (or $STACK_OUTPUTS_FILE).
#   scripts/deploy-local.sh              # builds the functions first
#   SKIP_BUILD=1 scripts/deploy-local.sh # use what build/lambda/ has
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
source scripts/local-env.sh

[[ "${SKIP_BUILD:-}" == 1 ]] || scripts/build-functions.sh

ARTIFACTS="$STACK_NAME-artifacts"
OUTPUTS_FILE="${STACK_OUTPUTS_FILE:-build/stack-outputs.json}"
"$AWS" s3api head-bucket --bucket "$ARTIFACTS" >/dev/null 2>&1 || "$AWS" s3 mb "s3://$ARTIFACTS" >/dev/null

# Seconds instead of minutes: emulated jobs take seconds here.
LOCAL_TIMINGS=(
  PollIntervalSeconds=1 QuotaWakeUpTimeoutSeconds=6 QuotaMaxWaitSeconds=4 QuotaWaitAttempts=100
  LaunchRetrySeconds=1 LaunchRetryAttempts=150 SlotLeaseSeconds=20 PhaseTimeoutSeconds=600
  RelaunchBaseSeconds=1 QuotaLimitsCacheSeconds=1 DeliverBudgetSeconds=40
  SlackRetryBudgetSeconds=8 FoldWindowSeconds=15 SweepIntervalMinutes=1
  FreshnessCheckMinutes=1 FreshnessHourSeconds=1
)
# Small parts, so that a job of a few hundred thousand users (the e2e scale test: 200,000) is
# scored and delivered in several.
LOCAL_SIZES=(ScoringPartUsers=50000)
# Passed even at its default: LocalStack's substitution of a number parameter left at its
# default into the state machine's definition fails ("replace() argument 2 must be str").
LOCAL_SIZES+=(DeliveryWorkers=8)
# Fallbacks of the scale test's 200,000 users counted in four shares.
LOCAL_SIZES+=(FallbackShareUsers=50000)

# Timings with which the longest job could outgrow one execution's history are refused.
BUDGET="target/${CARGO_PROFILE:-local}/history-budget"   # built by build-functions.sh
if [[ -x "$BUDGET" ]]; then "$BUDGET" "${LOCAL_TIMINGS[@]}"
else cargo run --quiet --profile "${CARGO_PROFILE:-local}" -p recoflow-core --bin history-budget -- "${LOCAL_TIMINGS[@]}"; fi

# The packaged template beside the outputs, so stacks deployed side by side (make e2e) keep apart.
PACKAGED="${OUTPUTS_FILE%.json}-packaged.yaml"
mkdir -p "$(dirname "$OUTPUTS_FILE")"
echo "deploy-local: packaging"
# package prints a progress line per chunk: keep its output for when it fails.
if ! "$AWS" cloudformation package --template-file infra/template.yaml --s3-bucket "$ARTIFACTS" \
  --output-template-file "$PACKAGED" >"$PACKAGED.log" 2>&1; then
  tail -20 "$PACKAGED.log" >&2; exit 1
fi
stack_status() {
  "$AWS" cloudformation describe-stacks --stack-name "$STACK_NAME" \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null || echo NONE
}

# `cloudformation deploy` waits for *_COMPLETE; LocalStack reports a failed update as
# ROLLBACK_COMPLETE, which that waiter never accepts (it would wait an hour). So the deploy runs
# in the background while this loop watches the stack and gives up on any failed state.
deploy_once() {
  # The template is over CloudFormation's 51,200-byte inline limit: it goes through the bucket.
  "$AWS" cloudformation deploy --template-file "$PACKAGED" --stack-name "$STACK_NAME" --s3-bucket "$ARTIFACTS" \
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
    --parameter-overrides "LocalEndpoint=$LOCALSTACK_ENDPOINT" "${LOCAL_TIMINGS[@]}" "${LOCAL_SIZES[@]}" &
  local deploy=$!
  while kill -0 "$deploy" 2>/dev/null; do
    case "$(stack_status)" in
      *ROLLBACK_COMPLETE|*FAILED) kill "$deploy" 2>/dev/null; wait "$deploy" 2>/dev/null; return 1 ;;
    esac
    sleep 2
  done
  wait "$deploy"
}

report_failure() {
  echo "deploy-local: deployment failed; stack events:" >&2
  "$AWS" cloudformation describe-stack-events --stack-name "$STACK_NAME" \
    --query 'StackEvents[?contains(ResourceStatus, `FAILED`)].[LogicalResourceId,ResourceStatusReason]' \
    --output text >&2 || true
}

echo "deploy-local: deploying stack $STACK_NAME"
if ! deploy_once; then
  report_failure
  # LocalStack cannot apply some updates to a running stack (e.g. a new API route makes it
  # recreate the API stage, "Stage already exists"). Local data is disposable: start afresh.
  if [[ "$(stack_status)" != NONE ]]; then
    echo "deploy-local: deleting the stack and deploying it anew" >&2
    scripts/teardown-local.sh >&2
    deploy_once || { report_failure; exit 1; }
  else
    exit 1
  fi
fi
"$AWS" cloudformation describe-stacks --stack-name "$STACK_NAME" \
  --query 'Stacks[0].Outputs' --output json \
  | "$PYTHON" -c 'import json,sys; print(json.dumps({o["OutputKey"]: o["OutputValue"] for o in json.load(sys.stdin)}, indent=2))' \
  > "$OUTPUTS_FILE"
echo "deploy-local: outputs in $OUTPUTS_FILE"
# Parameters written after each deploy (the CLI would fetch URL-looking values: boto3 instead).
put_parameter() {  # name type value
  "$PYTHON" - "$@" <<'PY'
import os, sys, boto3
name, kind, value = sys.argv[1:4]
boto3.client("ssm", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).put_parameter(
    Name=name, Type=kind, Value=value, Overwrite=True)
PY
}
output() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$OUTPUTS_FILE" "$1"; }
# The API's address, for links in Slack messages (a function cannot name SAM's implicit API).
put_parameter "/$STACK_NAME/api-url" String "$(output ApiUrl)"
# Secrets are SecureStrings, which CloudFormation cannot create. The web page's token: UI_TOKEN,
# else a fixed local one (the local stack is on 127.0.0.1 only).
put_parameter "$(output UiTokenParameter)" SecureString "${UI_TOKEN:-recoflow-local-token}"
if [[ -n "${UI_TOKEN:-}" ]]; then
  echo "deploy-local: web page token (from UI_TOKEN) in $(output UiTokenParameter)"
else
  echo "deploy-local: web page token in $(output UiTokenParameter): recoflow-local-token"
fi
# The Slack webhook: the local stand-in when SLACK_WEBHOOK_URL is given (make demo and make
# test start one).
if [[ -n "${SLACK_WEBHOOK_URL:-}" ]]; then
  put_parameter "$(output SlackWebhookParameter)" SecureString "$SLACK_WEBHOOK_URL"
  echo "deploy-local: Slack webhook parameter $(output SlackWebhookParameter) set"
fi
cat "$OUTPUTS_FILE"
