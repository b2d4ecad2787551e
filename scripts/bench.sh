#!/usr/bin/env bash
# The registry benchmark (issue 2): demo generation, export, and import of a citizen CSV into
# SQLite and PostgreSQL at several sizes, with wall time and peak memory (max RSS) of each step.
#
#   scripts/bench.sh                 # 100,000 and 1,000,000 citizens
#   scripts/bench.sh 10000 100000    # other sizes
#
# Needs a release build (made here) and, for the PostgreSQL rows, scripts/services.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
cargo build --release --quiet
bin="$PWD/target/release/vongdoi"
pg_admin="$(bash scripts/services.sh | tail -n 1 | cut -d= -f2-)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
export VONGDOI_LOG=warn

# run LABEL N CMD… : prints one row "label  n  seconds  peak MB"
run() {
  local label=$1 n=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }
  read -r secs kb <"$work/time"
  printf '%-28s %10s %9.1f s %8.0f MB %12.0f rows/s\n' "$label" "$n" "$secs" "$((kb / 1024))" "$(echo "$n / $secs" | bc -l)"
}

fresh_pg() {
  local name="vongdoi_bench_$1"
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS $name WITH (FORCE)' -c 'CREATE DATABASE $name OWNER vongdoi'" >/dev/null
  echo "${pg_admin%/*}/$name"
}

printf '%-28s %10s %11s %11s %17s\n' step citizens time "peak RSS" throughput
for n in "${sizes[@]}"; do
  cd "$work"; rm -f ./*.db* ./*.csv
  run "demo → sqlite" "$n" "$bin" --database-url "sqlite://$work/demo.db" demo --population "$n" --seed 1
  run "export citizens (sqlite)" "$n" "$bin" --database-url "sqlite://$work/demo.db" export citizens "$work/citizens.csv"
  run "import citizens → sqlite" "$n" "$bin" --database-url "sqlite://$work/import.db" import citizens "$work/citizens.csv" --errors "$work/errors.csv"
  run "re-import (no change) sqlite" "$n" "$bin" --database-url "sqlite://$work/import.db" import citizens "$work/citizens.csv" --errors "$work/errors.csv"
  url=$(fresh_pg "$n")
  run "demo → postgres" "$n" "$bin" --database-url "$url" demo --population "$n" --seed 1
  url=$(fresh_pg "import_$n")
  run "import citizens → postgres" "$n" "$bin" --database-url "$url" import citizens "$work/citizens.csv" --errors "$work/errors.csv"
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS vongdoi_bench_$n WITH (FORCE)' -c 'DROP DATABASE IF EXISTS vongdoi_bench_import_$n WITH (FORCE)'" >/dev/null
  echo "  csv: $(du -h "$work/citizens.csv" | cut -f1), sqlite file after import: $(du -h "$work/import.db" | cut -f1)"
  cd - >/dev/null
done
