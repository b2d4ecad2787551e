#!/usr/bin/env bash
# The main job on the embedded default, from a fresh clone: build, a demo registry of a few
# communes in a SQLite file (./vongdoi.db), one child's lifecycle forecast, a scheduler run for
# today, and what was sent (files under ./outbox: SMS in sms.jsonl, email as .eml).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=./target/release/vongdoi
population=${POPULATION:-30000}
# SMS wait for 07:00–21:00 Vietnam time by default; a demo shows them at any hour.
export VONGDOI_SMS_WINDOW=${VONGDOI_SMS_WINDOW:-00:00-24:00}
echo "== vongdoi demo --population $population"
"$bin" demo --population "$population"
# The youngest child with a mother on record (export is in birth order).
child=$("$bin" export citizens - 2>/dev/null | awk -F, 'NR > 1 && $8 != "" { p = $1 } END { print p }')
echo
echo "== vongdoi forecast $child"
"$bin" forecast "$child"
echo
echo "== vongdoi run (today)"
"$bin" run
echo
echo "== what was sent (outbox/)"
echo "SMS:   $(wc -l < outbox/sms.jsonl 2>/dev/null || echo 0) in outbox/sms.jsonl"
echo "email: $(find outbox/email -name '*.eml' 2>/dev/null | wc -l) in outbox/email/"
head -n 3 outbox/sms.jsonl 2>/dev/null || true
echo
echo "== vongdoi messages --limit 5 (what officials see: masked recipients, status, errors)"
"$bin" messages --limit 5
