# Sourced by the scripts that talk to the local stack: credentials, region and endpoint for
# LocalStack, and the AWS CLI from the project's virtualenv.
REPO_ROOT="${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="$AWS_DEFAULT_REGION"
export LOCALSTACK_ENDPOINT="${LOCALSTACK_ENDPOINT:-http://127.0.0.1:${LOCALSTACK_PORT:-4566}}"
# `aws cloudformation package` reaches LocalStack's S3 only through this variable.
export AWS_ENDPOINT_URL="$LOCALSTACK_ENDPOINT"
export STACK_NAME="${STACK_NAME:-recoflow}"
VENV="${LOCALSTACK_VENV:-${LOCALSTACK_HOST_DIR:-$REPO_ROOT/.localstack-host}/venv}"
AWS="$VENV/bin/aws"
PYTHON="$VENV/bin/python"
