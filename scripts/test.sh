#!/usr/bin/env bash
# The whole test suite, on a fresh machine: starts PostgreSQL, then runs every test — the
# SQLite and PostgreSQL contract suites included — with cargo-nextest (cargo test if absent).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "export $(bash scripts/services.sh | tail -n 1)"
# The lint gate: formatting and clippy hold for every target (CI fails on a warning).
if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
  cargo fmt --all -- --check
  cargo clippy --all-targets --quiet -- -D warnings
elif [ "${CI:-}" = "true" ]; then
  echo "CI=true but rustfmt/clippy are missing: rustup component add rustfmt clippy" >&2
  exit 1
fi
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
