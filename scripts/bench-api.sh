#!/usr/bin/env bash
# Measures the HTTP API on loopback with a release build (issue #6 "Speed"):
#   - GET /api/citizens/{pin}/forecast with wrk (default 2 threads, 32 connections, 10 s),
#     every request authenticated, rate-limited (limit raised for the test) and audited;
#   - a commune's vaccination list page (/staff/vaccination), signed in, timed with curl.
# Usage: scripts/bench-api.sh [POPULATION] [sqlite|postgres://…]   (needs wrk: apt-get install -y wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
POP=${1:-100000}
DB=${2:-sqlite}
BIN=target/release/vongdoi
[ -x "$BIN" ] || cargo build --release
WORK=target/bench-api
mkdir -p "$WORK"
if [ "$DB" = sqlite ]; then
  export DATABASE_URL="sqlite://$PWD/$WORK/api-$POP.db"
else
  export DATABASE_URL="$DB"
fi
export VONGDOI_LOG=${VONGDOI_LOG:-warn,vongdoi=info}
COMMUNES=00004,00008,00025
if [ ! -f "$WORK/.demo-$POP-$(echo "$DB" | tr -c "a-z0-9" _)" ]; then
  "$BIN" demo --population "$POP" --seed 11 --communes "$COMMUNES" >/dev/null
  touch "$WORK/.demo-$POP-$(echo "$DB" | tr -c "a-z0-9" _)"
fi
NAME="bench-$(date +%s)"
KEY=$("$BIN" keys create --role health --commune 00004 --name "$NAME" 2>/dev/null)
# (awk stops reading early: the export's broken pipe is expected.)
PIN=$( { "$BIN" export citizens - 2>/dev/null || true; } | awk -F, '$6=="00004" && $4>"2025-06-01" {print $1; exit}')
PORT=${PORT:-18080}
VONGDOI_API_RATE=1000000 "$BIN" serve --listen 127.0.0.1:$PORT --metrics-listen 127.0.0.1:$((PORT+1)) --no-schedule \
  >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
URL="http://127.0.0.1:$PORT/api/citizens/$PIN/forecast"
curl -sf -H "Authorization: Bearer $KEY" "$URL" >/dev/null
echo "== forecast: wrk -t2 -c${CONNS:-32} -d${SECS:-10}s ($POP citizens, ${DB%%:*})"
wrk -t2 -c"${CONNS:-32}" -d"${SECS:-10}"s --latency -H "Authorization: Bearer $KEY" "$URL"
echo "== vaccination list page of commune 00004"
# The sign-in form's token and its cookie, as a browser gets them (login CSRF check).
JAR="$WORK/jar"
TOKEN=$(curl -s -c "$JAR" "http://127.0.0.1:$PORT/staff/login" | grep -o 'name="token" value="[0-9a-f]*"' | cut -d'"' -f4)
COOKIE=$(curl -s -b "$JAR" -D - -o /dev/null -H 'Sec-Fetch-Site: same-origin' --data-urlencode "key=$KEY" \
  --data "next=/staff/vaccination&token=$TOKEN" \
  "http://127.0.0.1:$PORT/staff/login" | awk -F'[ ;]' 'tolower($1)=="set-cookie:" && $2 ~ /^vongdoi_session=/ {print $2}')
for i in 1 2 3 4 5; do
  curl -s -o "$WORK/page.html" -w "page $i: %{http_code} %{time_total}s %{size_download} bytes\n" \
    -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT/staff/vaccination?commune=00004"
done
echo "children on the page: $(grep -o '<li class="child"' "$WORK/page.html" | wc -l)"
echo "audit rows written: $("$BIN" audit --key "$NAME" --limit 100000000 | tail -1)"
