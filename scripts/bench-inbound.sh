#!/usr/bin/env bash
# Two-way messaging benchmark (issue #16) against `vongdoi serve` over HTTP, on a demo registry:
#   1. the indexes migration 0014 adds (citizens by phone), built again on the whole registry:
#      what an upgrade costs;
#   2. one day's reminders (file outbox), so replies have something to answer;
#   3. INBOUND replies posted to /webhooks/sms/inbound by 8 senders at once, from numbers that
#      got a reminder, a mix of keywords ("HUY", "DANG KY", "da tiem") and questions: replies a
#      second, latency percentiles, and the service's peak memory (VmHWM) before and after;
#   4. the commune inbox of the busiest commune over the API.
#
#   scripts/bench-inbound.sh                        # 1,000,000 citizens, SQLite, 5,000 replies
#   scripts/bench-inbound.sh 1000000 postgres 5000  # PostgreSQL (scripts/services.sh starts it)
#
# Makes a release build. The SQLite registry is kept in target/bench/ (as bench-run.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
backend=${2:-sqlite}
replies=${3:-5000}
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/vongdoi"
work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
export VONGDOI_LOG=warn VONGDOI_SMS_WINDOW=00:00-24:00 VONGDOI_OUTBOX_DIR="$work/outbox" VONGDOI_CHANNELS=sms
if [ "$backend" = postgres ]; then
  admin="$(bash scripts/services.sh | tail -n 1 | cut -d= -f2-)"
  db=vongdoi_bench_inbound
  export DATABASE_URL="${admin%/*}/$db"
  su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS $db'" >/dev/null
  su postgres -c "psql -q -c 'CREATE DATABASE $db OWNER vongdoi'" >/dev/null
  /usr/bin/time -f "  demo $n: %e s" "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null
  index() { /usr/bin/time -f "  $1: %e s" su postgres -c "psql -q -d $db -c '$2'" >/dev/null; }
else
  src="target/bench/registry-$n.db"; mkdir -p target/bench
  if [ ! -f "$src" ]; then
    /usr/bin/time -f "  demo $n: %e s" env DATABASE_URL="sqlite://$src" "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null
  fi
  cp "$src" "$work/registry.db"
  export DATABASE_URL="sqlite://$work/registry.db"
  if ! "$bin" migrate >/dev/null 2>&1; then
    # A registry kept from a build whose migrations have changed since: made again.
    rm -f "$src"
    /usr/bin/time -f "  demo $n: %e s" env DATABASE_URL="sqlite://$src" "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null
    cp "$src" "$work/registry.db"
  fi
  index() { /usr/bin/time -f "  $1: %e s" sqlite3 "$work/registry.db" "$2"; }
fi
"$bin" migrate >/dev/null
echo "== $n citizens, $backend"
echo "== 1. migration 0014's index on the registry, built again"
index "DROP INDEX citizens_phone" "DROP INDEX citizens_phone"
index "CREATE INDEX citizens_phone (every citizen with a phone)" "CREATE INDEX citizens_phone ON citizens (phone) WHERE phone IS NOT NULL"

echo "== 2. one day's reminders to the file outbox"
/usr/bin/time -f "  run 2026-11-21: %e s" "$bin" run --as-of 2026-11-21 >/dev/null
echo "  SMS written: $(wc -l <"$work/outbox/sms.jsonl")"

token=bench-inbound-token
"$bin" serve --no-schedule --deliver-every 1 --webhook-token "$token" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" & pids+=($!)
serve_pid=$!
for _ in $(seq 1 100); do grep -q '^http: ' "$work/serve.out" && break; sleep 0.1; done
base="http://$(grep '^http: ' "$work/serve.out" | cut -d' ' -f2)"
peak() { grep VmHWM "/proc/$serve_pid/status" | awk '{print $2" KB"}'; }
echo "== 3. $replies replies, 8 senders at once; serve peak memory before: $(peak)"
python3 - "$base" "$token" "$work/outbox/sms.jsonl" "$replies" <<'EOF'
import json, sys, threading, time, urllib.request
base, token, outbox, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
numbers = []
for line in open(outbox):
    to = json.loads(line)["to"]
    if to not in numbers:
        numbers.append(to)
texts = ["Hỏi lịch tiêm tháng sau", "da tiem", "HUY", "Đăng ký", "Cháu bị sốt có tiêm được không?"]
lat, codes, lock = [], {}, threading.Lock()
def work(k):
    for i in range(k, total, 8):
        body = json.dumps({"id": f"bench-{i}", "from": numbers[i % len(numbers)], "text": texts[i % len(texts)]}).encode()
        req = urllib.request.Request(f"{base}/webhooks/sms/inbound?token={token}", data=body, headers={"Content-Type": "application/json"})
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(req) as r:
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        with lock:
            lat.append(time.perf_counter() - t)
            codes[code] = codes.get(code, 0) + 1
start = time.perf_counter()
ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
wall = time.perf_counter() - start
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(f"  {total} replies from {min(len(numbers), total)} numbers in {wall:.1f} s: {total / wall:.0f} a second; "
      f"latency p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms; answers {codes}")
EOF
echo "  serve peak memory after: $(peak)"
echo "== 4. the inbox of the busiest commune"
commune=$("$bin" inbox --status open --limit 10000 --format json | python3 -c 'import json,sys,collections; c=collections.Counter(r["commune"] for r in json.load(sys.stdin)["inbound"]); print(c.most_common(1)[0][0])')
key=$("$bin" keys create --name bench-inbox --role health --commune "$commune" | tail -n 1)
curl -sS -o "$work/answer" -w "  GET /api/inbox?commune=$commune: HTTP %{http_code} in %{time_total} s" -H "Authorization: Bearer $key" "$base/api/inbox?commune=$commune&limit=1000"
echo " — $(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a["replies"]), "replies;", a["figures"])' "$work/answer")"
