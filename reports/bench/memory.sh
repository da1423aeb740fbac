#!/usr/bin/env bash
# Memory benchmark: resident memory per idle subscriber connection, in the
# harness and in the reference server, at 10,000 Fibric SSE connections.
#
#   reports/bench/memory.sh [CONNECTIONS] [API]      (defaults: 10000 fibric)
#
# Runs `harness load --api API` (Fibric and Pulse: SSE; Fauna and Actyx: JSON
# lines; atproto: the firehose's WebSocket) twice against a fresh `reference-server
# --memory` (release builds): with 10 subscribers and with CONNECTIONS, one
# event a second, and samples both processes' VmRSS every 200 ms. The figure
# per connection is (peak with CONNECTIONS - peak with 10) / (CONNECTIONS - 10).
# Kernel socket buffers are not in either RSS: the peak of the TCP `mem` pages
# in /proc/net/sockstat (both ends of every connection) is reported beside it.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib.sh
source reports/bench/lib.sh
connections=${1:-10000}
api=${2:-fibric}
out=reports/bench/memory/$api
cargo build --release --quiet -p harness -p reference-server
ulimit -n "$(ulimit -Hn)"
mkdir -p "$out"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
tcp_pages() { awk '$1 == "TCP:" {for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat; }

# Prints "server_peak_kib harness_peak_kib tcp_peak_pages" for a run with $1 subscribers.
run() {
    local subscribers=$1 log server harness url server_peak=0 harness_peak=0 tcp_peak=0 t
    log=$(mktemp)
    start_server "$log" target/release/reference-server --memory
    server=$server_pid
    target/release/harness load --api "$api" --target "$url" --subscribers "$subscribers" \
        --rate 1 --duration 20s --grace 5s --report-dir "$out/run-$subscribers" >/dev/null 2>&1 &
    harness=$!
    while kill -0 "$harness" 2>/dev/null; do
        s=$(rss_kib "$server"); h=$(rss_kib "$harness")
        [ "${s:-0}" -gt "$server_peak" ] && server_peak=$s
        [ "${h:-0}" -gt "$harness_peak" ] && harness_peak=$h
        t=$(tcp_pages)
        [ "${t:-0}" -gt "$tcp_peak" ] && tcp_peak=$t
        sleep 0.2
    done
    wait "$harness" || true
    kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
    rm -f "$log"
    echo "$server_peak $harness_peak $tcp_peak"
}

read -r server_base harness_base tcp_base < <(run 10)
read -r server_full harness_full tcp_full < <(run "$connections")
delivered=$(python3 -c "import json;print(json.load(open('$out/run-$connections/load.json'))['counters']['delivered'])")
python3 - "$connections" "$server_base" "$server_full" "$harness_base" "$harness_full" "$delivered" "$tcp_base" "$tcp_full" <<'PY'
import sys
n, sb, sf, hb, hf, delivered, tb, tf = (int(x) for x in sys.argv[1:])
per = lambda base, full: (full - base) * 1024 / (n - 10)
print(f"| process | peak RSS, 10 subscribers | peak RSS, {n} subscribers | per connection |")
print("|---|---:|---:|---:|")
print(f"| reference-server | {sb / 1024:.1f} MiB | {sf / 1024:.1f} MiB | {per(sb, sf) / 1024:.1f} KiB |")
print(f"| harness load | {hb / 1024:.1f} MiB | {hf / 1024:.1f} MiB | {per(hb, hf) / 1024:.1f} KiB |")
print(f"| kernel TCP buffers (sockstat, both ends) | {tb * 4 / 1024:.1f} MiB | {tf * 4 / 1024:.1f} MiB | {(tf - tb) * 4 / (n - 10):.1f} KiB |")
print(f"\nDeliveries in the {n}-subscriber run: {delivered} (20 events to each subscriber expected: {20 * n}).")
PY
