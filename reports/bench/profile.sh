#!/usr/bin/env bash
# Samples the durable reference server with perf while one closed-loop
# `harness load` cell of the peer benchmarks runs against it, and prints where
# the server's time goes: CPU used, then the top symbols (self time).
#
#   reports/bench/profile.sh atproto [LOAD FLAGS...]   # default: --publishers 16 --subscribers 100
#   reports/bench/profile.sh actyx   [LOAD FLAGS...]   # default: --batch 1 --publishers 4 --subscribers 100
#
# Needs perf (Debian linux-perf); on a machine without hardware counters it
# samples the cpu-clock. SERVER=path and HARNESS=path profile other builds.
# The raw data stays in a temporary directory; only the summary is printed.
set -euo pipefail
api=${1:?usage: profile.sh atproto|actyx [LOAD FLAGS...]}
shift
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
if [ -z "${HARNESS:-}" ] || [ -z "${SERVER:-}" ]; then
    (cd "$repo" && cargo build --release --quiet -p harness -p reference-server)
fi
harness="${HARNESS:-$repo/target/release/harness}"
server="${SERVER:-$repo/target/release/reference-server}"
if [ $# -eq 0 ]; then
    case "$api" in
    atproto) set -- --publishers 16 --subscribers 100 ;;
    *) set -- --batch 1 --publishers 4 --subscribers 100 ;;
    esac
fi
work="$(mktemp -d)"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_server "$work/server.log" "$server" --data-dir "$work/data"
pid=$server_pid
perf record -F 499 -g -p "$pid" -o "$work/perf.data" >/dev/null 2>&1 &
perf_pid=$!
sleep 0.5
start_ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
started=$(date +%s.%N)
"$harness" load --api "$api" --target "$url" --rate max --duration 10s --grace 10s "$@" \
    --report-dir "$work/report" >/dev/null
ticks=$(($(awk '{print $14 + $15}' "/proc/$pid/stat") - start_ticks))
finished=$(date +%s.%N)
kill -INT "$perf_pid"
wait "$perf_pid" 2>/dev/null || true
python3 - "$work/report/load.json" "$ticks" "$(getconf CLK_TCK)" "$started" "$finished" "$api" "$*" <<'PY'
import json, sys
path, ticks, hz, started, finished, api, flags = sys.argv[1:8]
load = json.load(open(path))
cores = int(ticks) / int(hz) / (float(finished) - float(started))
print(f"{api} {flags}: published {load['rates']['publish_rate']:.0f}/s, "
      f"delivered {load['rates']['deliver_rate']:.0f}/s; the server used {cores:.2f} cores")
PY
perf report -i "$work/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null |
    grep -v '^#' | grep '%' | head -30
