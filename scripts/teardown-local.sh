#!/usr/bin/env bash
# Deletes the local stack's CloudFormation stack (LocalStack keeps running; stop it with
# localstack/host/stop.sh). Buckets are emptied first, since CloudFormation cannot delete
# a bucket that holds objects.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
source scripts/local-env.sh
if ! "$AWS" cloudformation describe-stacks --stack-name "$STACK_NAME" >/dev/null 2>&1; then
  echo "teardown-local: no stack $STACK_NAME"; exit 0
fi
for key in FormsBucket DataBucket ResultsBucket; do
  bucket=$("$AWS" cloudformation describe-stacks --stack-name "$STACK_NAME" \
    --query "Stacks[0].Outputs[?OutputKey=='$key'].OutputValue" --output text)
  [[ -n "$bucket" && "$bucket" != None ]] || continue
  "$PYTHON" - "$bucket" <<'PY'
import sys, boto3, os
s3 = boto3.resource("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.Bucket(sys.argv[1]).object_versions.delete()
PY
done
"$AWS" cloudformation delete-stack --stack-name "$STACK_NAME"
"$AWS" cloudformation wait stack-delete-complete --stack-name "$STACK_NAME"
echo "teardown-local: stack $STACK_NAME deleted"
