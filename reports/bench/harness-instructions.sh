#!/usr/bin/env bash
# Instructions two builds of the harness run for one fixed stream load, under callgrind
# (repeatable where wall-clock figures are noise):
#
#   BEFORE=old/harness AFTER=new/harness reports/bench/harness-instructions.sh
#
# One release reference server per run (not under callgrind); the harness runs
# `load --subscribers 100 --rate 50 --duration 10s` (5,000 deliveries a second)
# under callgrind for each API in APIS (default: fibric pulse fauna actyx). Prints
# each run's deliveries and instructions per delivery (callgrind's total over all
# threads, set-up and reports included, divided by the deliveries).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
# shellcheck source=lib.sh
source reports/bench/lib.sh
server=${SERVER:-target/release/reference-server}
declare -A harness=([before]="${BEFORE:?BEFORE=path}" [after]="${AFTER:?AFTER=path}")
out=${OUT:-/tmp/harness-instructions}
rm -rf "$out"; mkdir -p "$out"
for api in ${APIS:-fibric pulse fauna actyx}; do
    for which in before after; do
        log=$(mktemp)
        start_server "$log" "$server" --memory
        valgrind --tool=callgrind --callgrind-out-file="$out/$which-$api.cg" "${harness[$which]}" load \
            --api "$api" --target "$url" --subscribers 100 --rate 50 --duration 10s --grace 10s \
            --report-dir "$out/$which-$api" >/dev/null 2>"$out/$which-$api.stderr"
        kill "$server_pid"; wait "$server_pid" 2>/dev/null
        rm -f "$log"
        python3 - "$out/$which-$api" "$which" "$api" <<'PY'
import json, re, sys
folder, which, api = sys.argv[1:]
delivered = json.load(open(f"{folder}/load.json"))["counters"]["delivered"]
total = next(int(m.group(1)) for line in open(f"{folder}.cg")
             if (m := re.match(r"(?:summary|totals): (\d+)", line)))
print(f"{api:8} {which:6} deliveries {delivered:>7}  instructions {total:>14,}  per delivery {total / max(delivered, 1):>9,.0f}")
PY
    done
done
