#!/usr/bin/env bash
# Scheduler-run benchmark (issue 4): `vongdoi run` over a demo registry on the embedded default
# (SQLite + file outbox) or PostgreSQL, three days in a row: the first run (a registry that never
# had reminders: every missed notice is caught up), the next day (an ordinary daily run), the
# same day again (nothing to do). Wall time and peak memory of each.
#
#   scripts/bench-run.sh                      # 1,000,000 citizens, SQLite
#   scripts/bench-run.sh 100000 postgres      # PostgreSQL (scripts/services.sh starts it)
#
# The SQLite registry is the one `cargo bench --bench registry_scan` keeps in target/bench/
# (as of 2026-11-21), copied; it is generated here if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
backend=${2:-sqlite}
cargo build --release --quiet
bin="$PWD/target/release/vongdoi"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
export VONGDOI_LOG=warn VONGDOI_SMS_WINDOW=00:00-24:00 VONGDOI_OUTBOX_DIR="$work/outbox"
if [ "$backend" = postgres ]; then
  admin="$(bash scripts/services.sh | tail -n 1 | cut -d= -f2-)"
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS vongdoi_bench_run WITH (FORCE)' -c 'CREATE DATABASE vongdoi_bench_run OWNER vongdoi'" >/dev/null
  export DATABASE_URL="${admin%/*}/vongdoi_bench_run"
  /usr/bin/time -f "demo $n: %e s, %M KB peak" "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null
else
  src="target/bench/registry-$n.db"; mkdir -p target/bench
  if [ ! -f "$src" ]; then
    DATABASE_URL="sqlite://$src" "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null
  fi
  cp "$src" "$work/registry.db"
  export DATABASE_URL="sqlite://$work/registry.db"
fi
# The schema brought up to date first (a registry made by an older version gains its columns
# and indexes here), so the runs below time only themselves.
/usr/bin/time -f "migrate: %e s, %M KB peak" "$bin" migrate >/dev/null
# The first run (everyone, every missed notice caught up), an ordinary day (incremental), the
# same day again, and a full pass (`--full`) the day after.
for day in 2026-11-21 2026-11-22 2026-11-22 "2026-11-23 --full"; do
  # shellcheck disable=SC2086 # the day may carry --full
  /usr/bin/time -f "  %e s wall, %M KB peak" -o "$work/time" "$bin" run --as-of $day >"$work/out"
  echo "== run --as-of $day ($n citizens, $backend)"
  grep -E '^chạy/run|đã quét' "$work/out" | sed 's/^/  /'
  cat "$work/time"
done
echo "SMS lines: $(wc -l <"$work/outbox/sms.jsonl"), emails: $(ls "$work/outbox/email" | wc -l)"
