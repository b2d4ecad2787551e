#!/usr/bin/env bash
# Delivery benchmark (issue 4): how fast the outbox drains into a real SMS gateway stand-in
# (tests/fixtures/sms_gateway.py, HTTP on loopback) and a real SMTP server (Debian's aiosmtpd,
# loopback), over a demo registry's first run. Prints the "delivery pass" log line of each run
# (sent, seconds, per_second) and the whole run's wall time.
#
#   scripts/bench-delivery.sh            # 100,000-person demo registry
#   scripts/bench-delivery.sh 30000
#
# Needs python3-aiosmtpd (scripts/services.sh installs it). Makes a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
cargo build --release --quiet
bin="$PWD/target/release/vongdoi"
work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

python3 tests/fixtures/sms_gateway.py "$work/gateway.jsonl" ok >"$work/gateway.port" & pids+=($!)
/usr/bin/python3 tests/fixtures/smtp_server.py "$work/maildir" >"$work/smtp.port" & pids+=($!)
for f in gateway smtp; do
  for _ in $(seq 1 50); do grep -q port "$work/$f.port" && break; sleep 0.1; done
done
gateway_port=$(cut -d' ' -f2 "$work/gateway.port")
smtp_port=$(cut -d' ' -f2 "$work/smtp.port")

export VONGDOI_LOG=warn,vongdoi=info VONGDOI_SMS_WINDOW=00:00-24:00 VONGDOI_OUTBOX_DIR="$work/outbox"
# Two demo databases (the same seed gives the same registry); copying the file would miss what
# is still in its WAL.
for db in sms email; do
  DATABASE_URL="sqlite://$work/$db.db" "$bin" demo --population "$n" --seed 1 --as-of 2026-11-21 >/dev/null 2>&1
done

echo "== SMS → HTTP gateway on loopback ($n citizens, first run of 2026-11-21)"
/usr/bin/time -f "run: %e s wall, %M KB peak" env DATABASE_URL="sqlite://$work/sms.db" VONGDOI_CHANNELS=sms \
  VONGDOI_SMS_URL="http://127.0.0.1:$gateway_port/send" "$bin" run --as-of 2026-11-21 2>&1 >/dev/null \
  | grep -E 'delivery pass|run:' | sed 's/\x1b\[[0-9;]*m//g'
echo "gateway requests: $(wc -l <"$work/gateway.jsonl")"

echo "== email → SMTP server on loopback ($n citizens, first run of 2026-11-21)"
/usr/bin/time -f "run: %e s wall, %M KB peak" env DATABASE_URL="sqlite://$work/email.db" VONGDOI_CHANNELS=email \
  VONGDOI_SMTP_URL="smtp://127.0.0.1:$smtp_port" "$bin" run --as-of 2026-11-21 2>&1 >/dev/null \
  | grep -E 'delivery pass|run:' | sed 's/\x1b\[[0-9;]*m//g'
echo "emails received: $(ls "$work/maildir/new" | wc -l)"
