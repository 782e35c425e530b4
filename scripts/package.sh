#!/usr/bin/env bash
# `make package`: every function in release mode for Lambda's provided.al2023 runtime, one zip
# each in build/package/<name>/bootstrap.zip, with cargo-lambda (from PyPI, linking with zig:
# no Docker). Then checks each zip: at most 8 MB, and no symbol needing a glibc newer than 2.34
# (Amazon Linux 2023's).
#   scripts/package.sh             # x86_64 (the only Rust target these machines have)
#   ARCH=arm64 scripts/package.sh  # Graviton: needs `rustup target add aarch64-unknown-linux-gnu`
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
source scripts/functions.sh
VENV="${LOCALSTACK_VENV:-$REPO_ROOT/.localstack-host/venv}"
ARCH="${ARCH:-x86_64}"

"$VENV/bin/pip" install -q -r scripts/requirements-package.txt
args=()
for f in "${FUNCTIONS[@]}"; do args+=(-p "$f"); done
case "$ARCH" in
  x86_64) target=(--x86-64) ;;
  arm64) target=(--arm64) ;;
  *) echo "package.sh: ARCH is x86_64 or arm64, not $ARCH" >&2; exit 2 ;;
esac
rm -rf build/package
# cargo-lambda finds zig through the venv's `python -m ziglang`.
PATH="$VENV/bin:$PATH" cargo lambda build --release --locked "${target[@]}" \
  --output-format zip --lambda-dir build/package "${args[@]}"
"$VENV/bin/python" scripts/check_packages.py build/package
