#!/usr/bin/env bash
# Fan-out benchmark: the reference server with 1,000 SSE (or NDJSON, or
# WebSocket) subscribers and a fixed publish rate, stepped up until p99
# publish-to-delivery passes 50 ms or events are lost.
#
#   reports/bench/fanout.sh [API] [SUBSCRIBERS] [DURATION] [BATCH] [RATES...]
#   (defaults: fibric 1000 10s 1 10 25 50 100 200 400 800 1600)
#
# Each step starts a fresh `reference-server --memory` (release build) and runs
# `harness load --api API` against it with four publisher workers, each request
# carrying BATCH events (Fibric and Actyx take batches). Both run on this
# machine, so the harness's own cost is in the figures; they are a floor for the
# server, not a ceiling. Beside the latencies it prints the CPU seconds the
# harness (getrusage) and the server (/proc) used per million deliveries, and
# their ratio. Writes reports/bench/fanout/API-bBATCH/ (one report per step) and
# prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib.sh
source reports/bench/lib.sh
api=${1:-fibric}
subscribers=${2:-1000}
duration=${3:-10s}
batch=${4:-1}
shift $(($# < 4 ? $# : 4))
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(10 25 50 100 200 400 800 1600)
out=reports/bench/fanout/$api-b$batch
cargo build --release --quiet -p harness -p reference-server
ulimit -n "$(ulimit -Hn)"
rm -rf "$out"
mkdir -p "$out"

server_pid=
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=; }
trap stop_server EXIT
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$server_pid/stat"; }

echo "$api, $subscribers subscribers, $duration per step, batch $batch:"
echo
echo "| rate (events/s) | deliveries/s | deliver p50 ms | deliver p99 ms | deliver max ms | lost | late publishes | harness CPU s per 1M | server CPU s per 1M | harness ÷ server |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for rate in "${rates[@]}"; do
    log=$(mktemp)
    start_server "$log" target/release/reference-server --memory
    step="$out/rate-$rate"
    batch_args=()
    [ "$batch" -gt 1 ] && batch_args=(--batch "$batch")
    /usr/bin/time -f "%U %S" -o "$step.time" target/release/harness load --api "$api" --target "$url" \
        --subscribers "$subscribers" --rate "$rate" --duration "$duration" --publishers 4 "${batch_args[@]}" \
        --grace 5s --report-dir "$step" >/dev/null 2>"$step.stderr" || true
    server_seconds=$(server_cpu)
    stop_server
    rm -f "$log"
    [ -s "$step.stderr" ] || rm -f "$step.stderr"
    row=$(python3 - "$step/load.json" "$step.time" "$server_seconds" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
harness = sum(float(x) for x in open(sys.argv[2]).read().split()[-2:])
server = float(sys.argv[3])
d = load["histograms"]["deliver"]
ms = lambda key: f'{d.get(key, 0) / 1000:.2f}'
c = load["counters"]
per_million = lambda s: s / max(c["delivered"], 1) * 1e6
print(f'| {load["about"]["profile"]["rate"]:g} | {load["rates"]["deliver_rate"]:.0f} | {ms("p50")} | {ms("p99")} | {ms("max")} | {c["lost"]} | {c["late_publishes"]} | {per_million(harness):.2f} | {per_million(server):.2f} | {harness / max(server, 1e-9):.2f} |')
print(d.get("p99", 0) > 50_000 or c["lost"] > 0)
PY
)
    rm -f "$step.time"
    echo "$row" | head -1
    if [ "$(echo "$row" | tail -1)" = "True" ]; then
        echo
        echo "p99 passed 50 ms (or events were lost) at $rate events/s."
        break
    fi
done
