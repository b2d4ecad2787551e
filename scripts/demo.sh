#!/usr/bin/env bash
# The main job on the embedded default, from a fresh clone: build, a demo registry of a few
# communes in a SQLite file (./vongdoi.db), what it holds, and one child's lifecycle forecast.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=./target/release/vongdoi
population=${POPULATION:-30000}
echo "== vongdoi demo --population $population"
"$bin" demo --population "$population"
# The youngest child with a mother on record (export is in birth order).
child=$("$bin" export citizens - 2>/dev/null | awk -F, 'NR > 1 && $8 != "" { p = $1 } END { print p }')
echo
echo "== vongdoi forecast $child"
"$bin" forecast "$child"
