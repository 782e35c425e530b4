#!/usr/bin/env bash
# Deploys infra/template.yaml to AWS with the release zips of `make package`.
#   STACK_NAME=recoflow ARTIFACT_BUCKET=my-artefacts scripts/deploy-aws.sh [ParameterKey=Value ...]
# Needs AWS credentials in the environment (or a profile: AWS_PROFILE) and an existing bucket
# for deployment artefacts. Writes the stack outputs to build/aws-stack-outputs.json.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
source scripts/functions.sh
: "${STACK_NAME:?set STACK_NAME}" "${ARTIFACT_BUCKET:?set ARTIFACT_BUCKET (an S3 bucket for deployment artefacts)}"
VENV="${LOCALSTACK_VENV:-$REPO_ROOT/.localstack-host/venv}"
AWS="$VENV/bin/aws"
PYTHON="$VENV/bin/python"
# Never the local stack's endpoint.
unset AWS_ENDPOINT_URL

# The template's code is build/lambda/<name>/bootstrap: stage the release binaries there.
for f in "${FUNCTIONS[@]}"; do
  zip="build/package/$f/bootstrap.zip"
  [[ -f "$zip" ]] || { echo "deploy-aws: $zip is missing: run make package" >&2; exit 1; }
  rm -rf "build/lambda/$f" && mkdir -p "build/lambda/$f"
  "$PYTHON" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "build/lambda/$f"
  chmod 0755 "build/lambda/$f/bootstrap"
done

# Timings with which the longest job could outgrow one execution's history are refused.
cargo run --quiet --profile local --locked -p recoflow-core --bin history-budget -- "$@"

"$AWS" cloudformation package --template-file infra/template.yaml --s3-bucket "$ARTIFACT_BUCKET" \
  --output-template-file build/packaged-aws.yaml
# The template is over CloudFormation's 51,200-byte inline limit: it goes through the bucket.
"$AWS" cloudformation deploy --template-file build/packaged-aws.yaml --stack-name "$STACK_NAME" --s3-bucket "$ARTIFACT_BUCKET" \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
  ${1:+--parameter-overrides "$@"}
"$AWS" cloudformation describe-stacks --stack-name "$STACK_NAME" --query 'Stacks[0].Outputs' --output json \
  | "$PYTHON" -c 'import json,sys; print(json.dumps({o["OutputKey"]: o["OutputValue"] for o in json.load(sys.stdin)}, indent=2))' \
  > build/aws-stack-outputs.json
# Slack messages link to GET /jobs/{id}: the API's address (a function cannot name SAM's implicit API).
api_url=$("$PYTHON" -c 'import json; print(json.load(open("build/aws-stack-outputs.json"))["ApiUrl"])')
"$PYTHON" -c 'import sys, boto3; boto3.client("ssm").put_parameter(Name=sys.argv[1], Type="String", Value=sys.argv[2], Overwrite=True)' \
  "/$STACK_NAME/api-url" "$api_url"
echo "deploy-aws: stack $STACK_NAME deployed; outputs in build/aws-stack-outputs.json"
cat build/aws-stack-outputs.json
