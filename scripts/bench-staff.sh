#!/usr/bin/env bash
# The health station's pages on a release build, timed on loopback (issue #12 "Speed"):
#   - signing in with a password (Argon2id included), 10 times;
#   - the worklist page of one commune of about 33,000 residents, 5 times;
#   - the printed session list of that commune (every child of this week's calls), 3 times.
# Usage: scripts/bench-staff.sh [POPULATION] [sqlite|postgres://…]
#   POPULATION (default 100000) is spread over three communes: 100,000 gives ~33,000 each.
set -euo pipefail
cd "$(dirname "$0")/.."
POP=${1:-100000}
DB=${2:-sqlite}
BIN=target/release/vongdoi
cargo build --release --quiet
WORK=target/bench-staff
mkdir -p "$WORK"
if [ "$DB" = sqlite ]; then
  export DATABASE_URL="sqlite://$PWD/$WORK/staff-$POP.db"
else
  export DATABASE_URL="$DB"
fi
export VONGDOI_LOG=${VONGDOI_LOG:-warn}
MARK="$WORK/.demo-$POP-$(echo "$DB" | tr -c "a-z0-9" _)"
if [ ! -f "$MARK" ]; then
  "$BIN" demo --population "$POP" --seed 11 --communes 00004,00008,00025 >/dev/null
  touch "$MARK"
fi
USER="bench$(date +%s)"
PASSWORD="mật khẩu đo tốc độ 2026"
echo "$PASSWORD" | "$BIN" users create "$USER" --role health --commune 00004 --password-stdin 2>/dev/null
PORT=${PORT:-18090}
VONGDOI_API_RATE=1000000 "$BIN" serve --listen 127.0.0.1:$PORT --metrics-listen 127.0.0.1:$((PORT+1)) --no-schedule \
  >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
BASE="http://127.0.0.1:$PORT"

echo "== sign-in with a password (form token, Argon2id check, session), 10 times"
for i in $(seq 1 10); do
  JAR="$WORK/jar"
  rm -f "$JAR"
  TOKEN=$(curl -s -c "$JAR" "$BASE/staff/login" | grep -o 'name="token" value="[0-9a-f]*"' | cut -d'"' -f4)
  curl -s -b "$JAR" -c "$JAR" -o /dev/null -H 'Sec-Fetch-Site: same-origin' \
    --data-urlencode "username=$USER" --data-urlencode "password=$PASSWORD" \
    --data "token=$TOKEN&next=/staff/vaccination" \
    -w "sign-in $i: %{http_code} %{time_total}s\n" "$BASE/staff/login"
done
COOKIE="vongdoi_session=$(awk '$6=="vongdoi_session" {print $7}' "$WORK/jar")"

echo "== the worklist page of commune 00004 (one card per child, 50 a page)"
for i in 1 2 3 4 5; do
  curl -s -o "$WORK/page.html" -w "page $i: %{http_code} %{time_total}s %{size_download} bytes\n" \
    -H "Cookie: $COOKIE" "$BASE/staff/vaccination?commune=00004"
done
echo "children on this week's list: $(grep -o '<b id="total">[0-9]*' "$WORK/page.html" | grep -o '[0-9]*$')"

echo "== the printed session list (every child of this week's calls)"
for i in 1 2 3; do
  curl -s -o "$WORK/print.html" -w "print $i: %{http_code} %{time_total}s %{size_download} bytes\n" \
    -H "Cookie: $COOKIE" "$BASE/staff/vaccination?commune=00004&print=1"
done
echo "children on the printed list: $(grep -o '<td class="sign">' "$WORK/print.html" | wc -l)"
echo "== the same list from the command line"
/usr/bin/time -f "report vaccination --by child: %es, %MKB" "$BIN" report vaccination --commune 00004 --by child --format csv >/dev/null
