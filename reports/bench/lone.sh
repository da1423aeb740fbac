#!/usr/bin/env bash
# One closed-loop writer (1 publisher, 1 subscriber, --rate max, 5 s) against
# the reference server with its durable store and with --memory, 3 repeats
# each: how much of a lone writer's round trip is the store's fsync.
#
#   reports/bench/lone.sh        # builds the release binaries, prints one line per run
#
# HARNESS=path and SERVER=path run other builds.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=lib.sh
source "$repo/reports/bench/lib.sh"
if [ -z "${HARNESS:-}" ] || [ -z "${SERVER:-}" ]; then
    (cd "$repo" && cargo build --release --quiet -p harness -p reference-server)
fi
harness="${HARNESS:-$repo/target/release/harness}"
server="${SERVER:-$repo/target/release/reference-server}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for api in actyx atproto; do
    for store in durable memory; do
        for rep in 1 2 3; do
            rm -rf "$work/data" "$work/report"
            if [ "$store" = durable ]; then
                start_server "$work/server.log" "$server" --data-dir "$work/data"
            else
                start_server "$work/server.log" "$server" --memory
            fi
            "$harness" load --api "$api" --target "$url" --rate max --duration 5s --grace 10s \
                --publishers 1 --subscribers 1 --report-dir "$work/report" >/dev/null 2>&1 || true
            rate=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['rates']['publish_rate']))" "$work/report/load.json")
            echo "$api $store r$rep published/s=$rate"
            kill "$server_pid"
            wait "$server_pid" 2>/dev/null || true
        done
    done
done
