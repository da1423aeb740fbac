#!/usr/bin/env bash
# Instructions two builds of the reference server run for one fixed workload, under callgrind
# (repeatable where wall-clock figures are noise):
#
#   BEFORE=old/reference-server AFTER=new/reference-server reports/bench/server-instructions.sh
#
# Fibric: 100 subscribers, 50 events/s; Actyx (durable): 20 subscribers, 20 events/s in
# batches of 10; 10 s each. Prints each run's rates and callgrind's total (all threads);
# divide by the deliveries (deliver_rate x 10 s) for instructions per delivery.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
source reports/bench/lib.sh
harness=${HARNESS:-target/release/harness}
declare -A server=([before]="${BEFORE:?BEFORE=path}" [now]="${AFTER:?AFTER=path}")
out=${OUT:-/tmp/cg24}; rm -rf $out; mkdir -p $out
for which in before now; do
  for api in ${APIS:-fibric actyx}; do
    log=$(mktemp)
    if [ $api = actyx ]; then d=$(mktemp -d); sargs=(--data-dir $d); largs=(--batch 10 --rate 20 --subscribers 20 --publishers 1); else sargs=(--memory); largs=(--rate 50 --subscribers 100 --publishers 1); fi
    : >"$log"
    valgrind --tool=callgrind --callgrind-out-file=$out/$which-$api.cg "${server[$which]}" --listen 127.0.0.1:0 "${sargs[@]}" >"$log" 2>&1 &
    vpid=$!
    url=; for _ in $(seq 300); do url=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$log" | head -1); [ -n "$url" ] && break; sleep 0.2; done
    $harness load --api $api --target "$url" --duration 10s --grace 10s "${largs[@]}" --report-dir $out/$which-$api >/dev/null 2>&1
    kill -INT $vpid; wait $vpid 2>/dev/null
    python3 -c "
import json; j=json.load(open('$out/$which-$api/load.json')); r=j['rates']; c=j.get('counts',{})
print('$which $api', 'deliveries', j['totals'] if 'totals' in j else {k:v for k,v in r.items()})"
    grep -h "^summary\|^totals" $out/$which-$api.cg | head -2
    rm -f $log; [ $api = actyx ] && rm -rf $d
  done
done
