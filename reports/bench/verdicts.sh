#!/usr/bin/env bash
# How long the whole catalogue takes to reach its verdicts against a reference
# server with five delivery defects on (issue 28: at most 60 s). The server
# runs with its own timers (keep-alives every 15 s), as any target would.
#
#   reports/bench/verdicts.sh [REPEATS]   # builds the debug binaries; one line per run
#
# HARNESS=path and SERVER=path run other builds. Each run's report.json is
# kept in reports/bench/verdicts/run-N.json.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=lib.sh
source "$repo/reports/bench/lib.sh"
if [ -z "${HARNESS:-}" ] || [ -z "${SERVER:-}" ]; then
    (cd "$repo" && cargo build --quiet -p harness -p reference-server)
fi
harness="${HARNESS:-$repo/target/debug/harness}"
server="${SERVER:-$repo/target/debug/reference-server}"
out="${OUT:-$repo/reports/bench/verdicts}"
work="$(mktemp -d)"
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
for rep in $(seq "${1:-3}"); do
    start_server "$work/server.log" "$server" --memory \
        --defect drop-on-reconnect --defect reorder-live --defect subscribe-duplicates \
        --defect fauna-cursor-inclusive --defect repeat-frames
    start=$(date +%s.%N)
    "$harness" check --target "$url" --report-dir "$work/report" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    cp "$work/report/report.json" "$out/run-$rep.json"
    python3 - "$out/run-$rep.json" "$start" "$end" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
checks = report["checks"]
failed = sum(c["verdict"] == "fail" for c in checks)
slowest = max(checks, key=lambda c: c["duration_ms"])
print(f"{float(sys.argv[3]) - float(sys.argv[2]):.1f} s, {len(checks)} checks, {failed} fail;"
      f" slowest {slowest['id']} {slowest['duration_ms'] / 1000:.1f} s")
PY
done
