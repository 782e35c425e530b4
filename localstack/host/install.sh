#!/usr/bin/env bash
# Creates or updates the host-mode LocalStack virtualenv (no Docker needed).
#   localstack/host/install.sh
# Idempotent: a stamp file keyed on a hash of the lock files and the extension sources makes a
# second run a fast no-op; any change to them reinstalls what is needed.
# Env: LOCALSTACK_HOST_DIR (default <repo>/.localstack-host), LOCALSTACK_VENV (default
#      $LOCALSTACK_HOST_DIR/venv), PYTHON (default python3.11, else python3).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HOST_DIR="${LOCALSTACK_HOST_DIR:-$REPO_ROOT/.localstack-host}"
VENV="${LOCALSTACK_VENV:-$HOST_DIR/venv}"
LOCK="$REPO_ROOT/localstack/requirements.lock"
TEST_REQS="$REPO_ROOT/tests/requirements.txt"
EXT_DIR="$REPO_ROOT/localstack/extension"
STAMP="$VENV/.recoflow-install-stamp"

if [[ -z "${PYTHON:-}" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

# Hash of everything that decides the venv's contents (sources only, no caches or build output).
inputs_hash() {
  {
    sha256sum "$LOCK" "$TEST_REQS"
    (cd "$EXT_DIR" && find . -type f \( -name '*.py' -o -name 'pyproject.toml' -o -name '*.json' \
        -o -name '*.cfg' -o -name 'MANIFEST.in' \) -not -path '*/build/*' -not -path '*.egg-info/*' \
        -not -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

WANT="$(inputs_hash)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  echo "install.sh: $VENV is up to date"
  exit 0
fi

mkdir -p "$HOST_DIR"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -c 'import sys; assert sys.version_info[:2] >= (3, 11), "LocalStack 4.9.2 host mode needs Python 3.11"' \
    || { echo "install.sh: $PYTHON is not Python 3.11+" >&2; exit 1; }
  echo "install.sh: creating $VENV with $("$PYTHON" -V)"
  "$PYTHON" -m venv "$VENV"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
"${PIP[@]}" install --quiet -r "$LOCK"
"${PIP[@]}" install --quiet -r "$TEST_REQS" -c "$LOCK"
# Build from a scratch copy so no build/ or egg-info lands in the source tree.
BUILD_DIR="$(mktemp -d)"
trap 'rm -rf "$BUILD_DIR"' EXIT
cp -r "$EXT_DIR/." "$BUILD_DIR/"
rm -rf "$BUILD_DIR/build" "$BUILD_DIR"/*.egg-info
"${PIP[@]}" install --quiet --no-deps --force-reinstall "$BUILD_DIR"

"$VENV/bin/python" - <<'PY'
from importlib.metadata import entry_points
names = {ep.name for ep in entry_points(group="localstack.lambda.runtime_executor")}
assert "recoflow-host" in names, f"executor plugin not registered: {names}"
providers = {ep.name for ep in entry_points(group="localstack.aws.provider")}
assert {"dynamodb:recoflow_moto", "personalize:default", "sagemaker:default", "scheduler:recoflow"} <= providers, f"providers not registered: {providers}"
extensions = {ep.name for ep in entry_points(group="localstack.extensions")}
assert "recoflow" in extensions, f"extension not registered: {extensions}"
PY
echo "$WANT" > "$STAMP"
echo "install.sh: $VENV ready"
