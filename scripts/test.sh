#!/usr/bin/env bash
# The whole test suite, on a fresh machine: starts PostgreSQL, then runs every test — the
# SQLite and PostgreSQL contract suites included — with cargo-nextest (cargo test if absent).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "export $(bash scripts/services.sh | tail -n 1)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
