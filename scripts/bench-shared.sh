#!/usr/bin/env bash
# Several instances sharing a day (issue #14): a full pass (`vongdoi run --full`) over a demo
# registry on PostgreSQL by one instance, then the next day's full pass by N instances at once
# (`--wait`: each claims shards until none is left). Prints both wall times and the speed-up.
#
#   scripts/bench-shared.sh [N_CITIZENS] [INSTANCES]      # 1,000,000 and 2 by default
#
# Reuses the registry `scripts/bench-run.sh N postgres` leaves in the database
# vongdoi_bench_run (another with BENCH_DB=NAME), and makes it when missing. On a machine with fewer cores than instances
# plus the database, the speed-up is bounded by the cores, not by the sharing.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
instances=${2:-2}
cargo build --release --quiet
bin="$PWD/target/release/vongdoi"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
export VONGDOI_LOG=warn VONGDOI_SMS_WINDOW=00:00-24:00 VONGDOI_OUTBOX_DIR="$work/outbox"
admin="$(bash scripts/services.sh | tail -n 1 | cut -d= -f2-)"
db=${BENCH_DB:-vongdoi_bench_run}
export DATABASE_URL="${admin%/*}/$db"
have=$(su postgres -c "psql -tA -d $db -c 'SELECT count(*) FROM citizens'" 2>/dev/null || echo 0)
if [ "$have" != "$n" ]; then
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS $db WITH (FORCE)' -c 'CREATE DATABASE $db OWNER vongdoi'" >/dev/null
  "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null
  "$bin" run --as-of 2026-11-21 >/dev/null
fi
# Two days after the newest run: one instance, then N.
last=$(su postgres -c "psql -tA -d $db -c 'SELECT max(as_of) FROM runs'")
one=$(date -d "$last + 1 day" +%F); many=$(date -d "$last + 2 day" +%F)
start=$(date +%s.%N)
"$bin" run --as-of "$one" --full >"$work/one.out"
t1=$(echo "$(date +%s.%N) - $start" | bc)
grep -E '^chạy/run' "$work/one.out" | sed 's/^/  1 instance: /'
start=$(date +%s.%N)
for i in $(seq "$instances"); do "$bin" run --as-of "$many" --full --wait >"$work/many-$i.out" & done
wait
tn=$(echo "$(date +%s.%N) - $start" | bc)
for i in $(seq "$instances"); do grep -E '^chạy/run' "$work/many-$i.out" | sed "s/^/  instance $i of $instances: /"; done
printf 'full pass of %s citizens: 1 instance %.1f s, %s instances %.1f s, speed-up %.2f×\n' "$n" "$t1" "$instances" "$tn" "$(echo "$t1 / $tn" | bc -l)"
