#!/usr/bin/env bash
# The staff-report benchmark (issue 5): wall time and peak memory of the reports on a demo
# registry of one province (SQLite, release build). Targets at 1,000,000 citizens: a commune's
# vaccination list < 1 s, the national enrolment forecast < 5 s, a province's coverage < 5 s.
#
#   scripts/bench-reports.sh                  # 1,000,000 citizens
#   scripts/bench-reports.sh 100000 1000000   # several sizes, to see how each report grows
#
# The registry is the one `cargo bench --bench registry_scan` builds and keeps under
# target/bench/registry-N.db (built here if missing; VONGDOI_BENCH_POPULATION=N picks the size).
# The reports only read it. Each report runs twice; the second run (warm cache) is the figure.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000000)
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet
bin="$target/release/vongdoi"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
export VONGDOI_LOG=warn
as_of=2026-11-21

# run LABEL CMD… : prints one row "label  cold s  warm s  peak MB  output lines"
run() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time1" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }
  /usr/bin/time -f "%e %M" -o "$work/time2" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }
  read -r cold _ <"$work/time1"
  read -r warm kb <"$work/time2"
  printf '  %-34s %7.2f s %7.2f s %7.0f MB %9s lines\n' "$label" "$cold" "$warm" "$((kb / 1024))" "$(wc -l <"$work/out")"
}

for n in "${sizes[@]}"; do
  db="target/bench/registry-$n.db"
  if [ ! -f "$db" ]; then
    VONGDOI_BENCH_POPULATION=$n cargo bench --bench registry_scan
  fi
  url="sqlite://$PWD/$db"
  commune=$("$bin" --database-url "$url" summary 2>/dev/null | awk '/Largest communes/ {getline; print $1; exit}')
  echo "registry of $n citizens ($db), commune $commune, as of $as_of"
  printf '  %-34s %9s %9s %10s %15s\n' report cold warm "peak RSS" output
  run "vaccination, one commune (csv)" "$bin" --database-url "$url" report vaccination --commune "$commune" --as-of $as_of
  run "vaccination, one commune (html)" "$bin" --database-url "$url" report vaccination --commune "$commune" --as-of $as_of --format html
  run "id-cards, one commune (csv)" "$bin" --database-url "$url" report id-cards --commune "$commune" --as-of $as_of
  run "enrolment, national (csv)" "$bin" --database-url "$url" report enrolment --as-of $as_of
  run "enrolment, national (html)" "$bin" --database-url "$url" report enrolment --as-of $as_of --format html
  run "coverage, province 01 (csv)" "$bin" --database-url "$url" report coverage --province 01 --as-of $as_of
  run "coverage, province 01, by month" "$bin" --database-url "$url" report coverage --province 01 --as-of $as_of --cohort month
  run "vaccination, province 01 (csv)" "$bin" --database-url "$url" report vaccination --province 01 --as-of $as_of
done
