#!/usr/bin/env bash
# Builds every Lambda function, the reference container and the recoflow CLI once, and stages
# each function as build/lambda/<name>/bootstrap (the custom-runtime layout the template's
# CodeUri points at).
#   scripts/build-functions.sh            # profile "local": what the local stack and tests use
#   CARGO_PROFILE=release scripts/build-functions.sh   # LTO'd binaries for AWS
# Binaries are built for this machine (x86_64 Linux): on AWS use the same architecture.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
PROFILE="${CARGO_PROFILE:-local}"
source scripts/functions.sh

args=()
for f in "${FUNCTIONS[@]}"; do args+=(-p "$f"); done
# The CLI (target/$PROFILE/recoflow) and the deploys' history-budget check (recoflow-core's
# bin) come from the same invocation: its dependencies are the
# functions' (one feature resolution, nothing compiled twice); the e2e suite drives it.
cargo build --profile "$PROFILE" --locked "${args[@]}" -p recsys -p recoflow-cli -p recoflow-core

for f in "${FUNCTIONS[@]}"; do
  mkdir -p "build/lambda/$f"
  # a hard link where it can: the same bytes, not a second copy on the disk
  rm -f "build/lambda/$f/bootstrap"
  ln "target/$PROFILE/$f" "build/lambda/$f/bootstrap" 2>/dev/null \
    || install -m 0755 "target/$PROFILE/$f" "build/lambda/$f/bootstrap"
done
echo "build-functions: staged ${FUNCTIONS[*]} from target/$PROFILE into build/lambda/"
