#!/usr/bin/env bash
# Two builds of the reference server taking turns under one harness, three rounds:
#
#   BEFORE=old/reference-server AFTER=new/reference-server reports/bench/server-ab.sh
#
# The cells: Fibric fan-out (1,000 subscribers, 50 and 100 events/s, 10 s, memory) and
# the Actyx cells of peers.sh at 100 subscribers (durable, 4 publishers, batch 1 and
# 100, closed loop, 5 s). Prints medians of three (deliveries/s, publishes/s, deliver
# p50/p99, the server's CPU seconds from /proc); the runs go to $OUT (/tmp/server-ab).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
source reports/bench/lib.sh
ulimit -n "$(ulimit -Hn)"
harness=${HARNESS:-target/release/harness}
declare -A server=([before]="${BEFORE:?BEFORE=path}" [now]="${AFTER:?AFTER=path}")
out=${OUT:-/tmp/server-ab}; rm -rf $out; mkdir -p $out
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # which name server-args... -- load-args...
  local which=$1 name=$2; shift 2
  local sargs=() ; while [ "$1" != "--" ]; do sargs+=("$1"); shift; done; shift
  local log=$(mktemp); start_server "$log" "${server[$which]}" "${sargs[@]}"
  $harness load --target "$url" "$@" --report-dir $out/$which-$name >/dev/null 2>&1
  echo "$(cpu $server_pid)" > $out/$which-$name/server_cpu_ticks
  kill $server_pid; wait $server_pid 2>/dev/null; rm -f $log
}
for round in 1 2 3; do
  for which in before now; do
    for rate in 50 100; do
      run $which fan$rate-$round --memory -- --api fibric --subscribers 1000 --rate $rate --duration 10s --publishers 4 --grace 5s
    done
    for batch in 1 100; do
      d=$(mktemp -d)
      run $which ax$batch-$round --data-dir $d -- --api actyx --rate max --duration 5s --grace 10s --batch $batch --publishers 4 --subscribers 100
      rm -rf $d
    done
  done
done
OUT=$out python3 - <<'PY'
import json, statistics
import os
out=os.environ.get('OUT','/tmp/server-ab')
def get(which,name,r):
    j=json.load(open(f'{out}/{which}-{name}-{r}/load.json'))
    t=int(open(f'{out}/{which}-{name}-{r}/server_cpu_ticks').read())
    return j,t
for name in ['fan50','fan100','ax1','ax100']:
    for which in ['before','now']:
        rows=[get(which,name,r) for r in (1,2,3)]
        rates=[j['rates']['deliver_rate'] for j,_ in rows]
        pubs=[j['rates'].get('publish_rate',0) for j,_ in rows]
        p50=[j['histograms']['deliver']['p50']/1000 for j,_ in rows]
        p99=[j['histograms']['deliver']['p99']/1000 for j,_ in rows]
        cpu=[t/100 for _,t in rows]
        m=statistics.median
        print(f"{name:7} {which:6} deliveries/s {m(rates):9.0f} publishes/s {m(pubs):8.0f} p50 {m(p50):7.2f} ms p99 {m(p99):8.2f} ms ({', '.join(f'{x:.2f}' for x in p99)}) server CPU s {m(cpu):.2f}")
PY
