#!/usr/bin/env bash
# Bulk citizen import benchmark (issue #14 point 5): `vongdoi import citizens` of an N-citizen
# CSV into an empty registry, against the database's own loader on the same file into a table
# with a primary key and one (birth-date) index, in one go: `sqlite3 .import`, or `psql \copy`.
#
#   scripts/bench-import.sh                      # 1,000,000 citizens, SQLite
#   scripts/bench-import.sh 100000 postgres      # PostgreSQL (scripts/services.sh starts it)
#
# The CSV is `vongdoi export citizens` of a demo registry (target/bench/registry-N.db, the one
# `cargo bench --bench registry_scan` and scripts/bench-run.sh keep; generated if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
backend=${2:-sqlite}
cargo build --release --quiet
bin="$PWD/target/release/vongdoi"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
export VONGDOI_LOG=warn
src="target/bench/registry-$n.db"; mkdir -p target/bench
if [ ! -f "$src" ]; then
  DATABASE_URL="sqlite://$src" "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null
fi
cp "$src" "$work/registry.db"
"$bin" --database-url "sqlite://$work/registry.db" export citizens "$work/citizens.csv" >/dev/null
rm -f "$work"/registry.db*
echo "csv: $n citizens, $(du -h "$work/citizens.csv" | cut -f1)"
shape="(personal_id TEXT PRIMARY KEY, full_name TEXT, sex TEXT, date_of_birth TEXT, date_of_death TEXT, commune_code TEXT, household_id TEXT, mother_id TEXT, father_id TEXT, guardian_id TEXT, phone TEXT, email TEXT, language TEXT, village TEXT, address TEXT)"
secs() { /usr/bin/time -f "%e" -o "$work/t" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }; cat "$work/t"; }
if [ "$backend" = postgres ]; then
  admin="$(bash scripts/services.sh | tail -n 1 | cut -d= -f2-)"
  fresh() { su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS $1 WITH (FORCE)' -c 'CREATE DATABASE $1 OWNER vongdoi'" >/dev/null; echo "${admin%/*}/$1"; }
  url=$(fresh vongdoi_bench_import)
  "$bin" --database-url "$url" migrate >/dev/null
  ours=$(secs "$bin" --database-url "$url" import citizens "$work/citizens.csv" --errors "$work/errors.csv")
  url2=$(fresh vongdoi_bench_copy)
  psql -q "$url2" -c "CREATE TABLE citizens $shape" -c "CREATE INDEX citizens_birth ON citizens (date_of_birth)"
  theirs=$(secs psql -q "$url2" -c "\\copy citizens FROM '$work/citizens.csv' WITH (FORMAT csv, HEADER true)")
  tool="psql \\copy"
  su postgres -c "psql -q -c 'DROP DATABASE vongdoi_bench_import WITH (FORCE)' -c 'DROP DATABASE vongdoi_bench_copy WITH (FORCE)'" >/dev/null
else
  # Migrated first, so the timing is the import alone.
  "$bin" --database-url "sqlite://$work/import.db" migrate >/dev/null
  ours=$(secs "$bin" --database-url "sqlite://$work/import.db" import citizens "$work/citizens.csv" --errors "$work/errors.csv")
  printf '%s\n' "CREATE TABLE citizens $shape;" "CREATE INDEX citizens_birth ON citizens (date_of_birth);" \
    ".import --csv --skip 1 $work/citizens.csv citizens" >"$work/load.sql"
  theirs=$(secs sqlite3 "$work/sqlite3.db" <"$work/load.sql")
  tool="sqlite3 .import"
fi
echo "vongdoi import citizens ($backend, empty registry): $ours s"
echo "$tool (primary key + birth-date index):        $theirs s"
echo "ratio vongdoi / $tool: $(echo "scale=2; $ours / $theirs" | bc -l)"
