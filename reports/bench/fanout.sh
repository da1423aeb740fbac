#!/usr/bin/env bash
# Fan-out benchmark: the reference server with 1,000 Fibric SSE subscribers and
# a fixed publish rate, stepped up until p99 publish-to-delivery passes 50 ms.
#
#   reports/bench/fanout.sh [SUBSCRIBERS] [DURATION]     (defaults: 1000 10s)
#
# Each step starts a fresh `reference-server --memory` (release build) and runs
# `harness load --api fibric` against it with four publisher workers. Both run
# on this machine, so the harness's own cost is in the figures; they are a
# floor for the server, not a ceiling. Writes reports/bench/fanout/ (one report
# per step, gitignored raw data aside) and prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib.sh
source reports/bench/lib.sh
subscribers=${1:-1000}
duration=${2:-10s}
out=reports/bench/fanout
cargo build --release --quiet -p harness -p reference-server
ulimit -n "$(ulimit -Hn)"
rm -rf "$out/steps"
mkdir -p "$out/steps"

server_pid=
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=; }
trap stop_server EXIT

echo "| rate (events/s) | deliveries/s | deliver p50 ms | deliver p99 ms | deliver max ms | lost | late publishes |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for rate in 10 25 50 100 200 400 800 1600; do
    log=$(mktemp)
    start_server "$log" target/release/reference-server --memory
    step="$out/steps/rate-$rate"
    target/release/harness load --api fibric --target "$url" --subscribers "$subscribers" \
        --rate "$rate" --duration "$duration" --publishers 4 --grace 5s --report-dir "$step" >/dev/null 2>"$step.stderr" || true
    stop_server
    rm -f "$log"
    [ -s "$step.stderr" ] || rm -f "$step.stderr"
    row=$(python3 - "$step/load.json" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
d = load["histograms"]["deliver"]
ms = lambda key: f'{d.get(key, 0) / 1000:.2f}'
c = load["counters"]
print(f'| {load["about"]["profile"]["rate"]:g} | {load["rates"]["deliver_rate"]:.0f} | {ms("p50")} | {ms("p99")} | {ms("max")} | {c["lost"]} | {c["late_publishes"]} |')
print(d.get("p99", 0) > 50_000)
PY
)
    echo "$row" | head -1
    if [ "$(echo "$row" | tail -1)" = "True" ]; then
        echo
        echo "p99 passed 50 ms at $rate events/s."
        break
    fi
done
