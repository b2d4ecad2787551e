#!/usr/bin/env bash
# Outbreak-alert benchmark (issue #15) against `vongdoi serve` over HTTP, on a demo registry of
# one province (Hà Nội, 01):
#   1. the audience of a measles alert (children aged 1–10 with fewer than 2 valid measles
#      doses, the whole province): the draft request computes and saves it;
#   2. a wide alert (ages 0–16, fewer than 3 valid measles doses: every child) whose approval
#      queues one message per household: the approve request's time;
#   3. its delivery to the SMS gateway stand-in (tests/fixtures/sms_gateway.py, loopback) at
#      the configured rate (VONGDOI_SMS_RATE, default 2000 a second here), to the end.
# Prints each request's wall time, the messages, and the service's peak memory (VmHWM) after
# each step: memory must stay flat whatever the province's size.
#
#   scripts/bench-alert.sh                      # 1,000,000 citizens, SQLite
#   scripts/bench-alert.sh 1000000 postgres     # PostgreSQL (scripts/services.sh starts it)
#
# Makes a release build. The SQLite registry is the one bench-run.sh keeps in target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
backend=${2:-sqlite}
rate=${VONGDOI_SMS_RATE:-2000}
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/vongdoi"
work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
export VONGDOI_LOG=warn,vongdoi=info VONGDOI_SMS_WINDOW=00:00-24:00 VONGDOI_OUTBOX_DIR="$work/outbox"
if [ "$backend" = postgres ]; then
  admin="$(bash scripts/services.sh | tail -n 1 | cut -d= -f2-)"
  export DATABASE_URL="${admin%/*}/vongdoi_bench_alert"
  if ! su postgres -c "psql -Atc \"SELECT 1 FROM pg_database WHERE datname = 'vongdoi_bench_alert'\"" | grep -q 1; then
    su postgres -c "psql -q -c 'CREATE DATABASE vongdoi_bench_alert OWNER vongdoi'" >/dev/null
    /usr/bin/time -f "demo $n: %e s, %M KB peak" "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null
  fi
  # A previous run's alerts and messages go, so each run starts alike.
  su postgres -c "psql -q -d vongdoi_bench_alert -c 'TRUNCATE alerts, alert_audience, alert_messages, alert_log, messages, api_keys CASCADE'" >/dev/null 2>&1 || true
else
  src="target/bench/registry-$n.db"; mkdir -p target/bench
  if [ ! -f "$src" ]; then
    DATABASE_URL="sqlite://$src" "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null
  fi
  cp "$src" "$work/registry.db"
  export DATABASE_URL="sqlite://$work/registry.db"
fi
"$bin" migrate >/dev/null
drafter=$("$bin" keys create --name bench-drafter --role health --province 01 | tail -n 1)
approver=$("$bin" keys create --name bench-approver --role health --province 01 | tail -n 1)

python3 tests/fixtures/sms_gateway.py "$work/gateway.jsonl" ok >"$work/gateway.port" & pids+=($!)
for _ in $(seq 1 50); do grep -q port "$work/gateway.port" && break; sleep 0.1; done
gateway_port=$(cut -d' ' -f2 "$work/gateway.port")
VONGDOI_CHANNELS=sms VONGDOI_SMS_URL="http://127.0.0.1:$gateway_port/send" VONGDOI_SMS_SUCCESS=status=queued \
  VONGDOI_SMS_RATE="$rate" VONGDOI_SMS_CONCURRENCY=32 \
  "$bin" serve --no-schedule --deliver-every 1 --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" & pids+=($!)
serve_pid=$!
for _ in $(seq 1 100); do grep -q '^http: ' "$work/serve.out" && break; sleep 0.1; done
base="http://$(grep '^http: ' "$work/serve.out" | cut -d' ' -f2)"
peak() { grep VmHWM "/proc/$serve_pid/status" | awk '{print $2" KB"}'; }
call() { # METHOD PATH KEY [BODY] → the answer in $work/answer; prints the wall time
  curl -sS -o "$work/answer" -w '%{http_code} %{time_total}' -X "$1" -H "Authorization: Bearer $3" \
    -H 'Content-Type: application/json' ${4:+--data "$4"} "$base$2"
}
echo "== $n citizens, $backend; serve peak memory at start: $(peak)"

echo "== 1. measles alert, children 1–10 with fewer than 2 valid doses, province 01"
t=$(call POST /api/alerts "$drafter" '{"name":"bench measles","template":"measles-outbreak","as_of":"2026-11-21","provinces":["01"],"age_from":"1 year","age_to":"10 years","conditions":[{"series":"measles","valid_doses_below":2}]}')
echo "  draft (audience computed and saved): HTTP/s $t — $(cat "$work/answer")"
id1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/answer")
t=$(call GET "/api/alerts/$id1/preview" "$drafter")
echo "  preview: HTTP/s $t — $(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print({k: p[k] for k in ("total","households","without_contact","messages","sms_segments","estimated_cost_vnd","outside_window")})' "$work/answer")"
echo "  serve peak memory: $(peak)"

echo "== 2. wide alert, ages 0–16 with fewer than 3 valid measles doses (every child)"
t=$(call POST /api/alerts "$drafter" '{"name":"bench wide","template":"measles-outbreak","as_of":"2026-11-21","provinces":["01"],"age_from":"0 days","age_to":"16 years","conditions":[{"series":"measles","valid_doses_below":3}]}')
echo "  draft: HTTP/s $t — $(cat "$work/answer")"
id2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/answer")
echo "  serve peak memory: $(peak)"
start=$(date +%s.%N)
t=$(call POST "/api/alerts/$id2/approve" "$approver" '{}')
echo "  approve (messages queued): HTTP/s $t — $(cat "$work/answer")"
queued=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queued"])' "$work/answer")

echo "== 3. delivery at VONGDOI_SMS_RATE=$rate to the gateway stand-in"
while :; do
  call GET "/api/alerts/$id2" "$drafter" >/dev/null
  status=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["alert"]["status"])' "$work/answer")
  [ "$status" = completed ] && break
  sleep 1
done
end=$(date +%s.%N)
sent=$(grep -c '"accepted"' "$work/gateway.jsonl" || true)
python3 -c "import sys; q,s,a,b=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]),float(sys.argv[4]); print(f'  {s} of {q} messages accepted by the gateway in {b-a:.1f} s: {s/(b-a):.0f} a second')" "$queued" "$sent" "$start" "$end"
echo "  serve peak memory: $(peak)"
grep -E 'delivery pass' "$work/serve.out" "$work/serve.err" 2>/dev/null | tail -n 2 | sed 's/\x1b\[[0-9;]*m//g; s/^/  /' || true
