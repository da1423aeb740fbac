#!/usr/bin/env bash
# Soak benchmark: all five APIs at once against one reference server for a
# long run, to see that memory stays flat, nothing is lost, and latency does
# not drift.
#
#   reports/bench/soak.sh [DURATION]      (default 1h; 30s, 10m, 2h, 1h 30m…)
#
# Starts one `reference-server` and five `harness load` processes at
# once, one per API, each publishing at a fixed rate to its subscribers for
# DURATION (then --grace 5s). Every second it samples the VmRSS of the server
# and of each harness, their CPU seconds, the whole machine's busy CPU, the
# kernel's TCP memory and MemAvailable. Then soak.py gives three verdicts,
# after a warm-up of max(10 s, 10 % of DURATION):
#   1. RSS flat: each process's largest RSS after the warm-up is at most
#      (1 + SOAK_RSS_TOLERANCE) × its RSS at the warm-up's end (default 0.05);
#   2. nothing lost: `lost` and `publish_errors` are 0 in every load.json, and
#      every harness exits 0 or 1;
#   3. p99 stable: every 1 s interval's deliver p99 after the warm-up is at
#      most max(SOAK_P99_FACTOR × the median interval p99, 50 ms) (default 3).
# The server keeps its log in a data directory under OUT (SOAK_STORE=disk, the
# default; removed at the end) or in RAM (SOAK_STORE=memory: its RSS then grows
# with the log by design).
#
# Each API's load is "SUBSCRIBERS RATE" (events a second) from SOAK_FIBRIC,
# SOAK_PULSE, SOAK_FAUNA, SOAK_ACTYX, SOAK_ATPROTO, defaults below;
# SOAK_BATCH_FIBRIC and SOAK_BATCH_ACTYX set their --batch (default 1).
# SOAK_BIN_DIR=dir runs the `harness` and `reference-server` found there
# instead of building this tree (cargo build --release). The run is stopped
# (and fails) when MemAvailable falls below SOAK_MIN_AVAILABLE of MemTotal
# (default 0.1), before the OOM killer picks a process of its own.
#
# Writes SOAK_OUT (default reports/bench/soak/), replacing an earlier run's
# files: rss.csv (the samples), API/ (each harness's report: load.json, the
# interval logs, load.html), API.log (its output), server.log, results.md
# (the table, the command, the date, the machine), soak.svg (RSS, per-interval
# p99 and CPU over time) and report.args (to redo the summary after the run:
# `python3 reports/bench/soak.py report @OUT/report.args`). Prints results.md.
# Exit status: 0 when every verdict holds, 1 when one fails, 2 on bad usage,
# 3 when something did not start.
set -euo pipefail

# The default load, "SUBSCRIBERS RATE" per API: 320 events and 41,000
# deliveries a second in all. On the 2-core machine of README.md the server
# and the five harnesses kept up with it for 30 s to 2 min, nothing lost and
# interval p99 medians of 4-8 ms, using about 0.9 of a core between them
# (server 0.4, harnesses 0.5), even beside a build on the other core: modest
# on purpose, until it is tuned to half the measured capacity. Edit here, or
# override with SOAK_<API>.
declare -A defaults=(
    [fibric]="200 100"
    [pulse]="100 50"
    [fauna]="100 50"
    [actyx]="100 100"
    [atproto]="50 20"
)

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"
apis=(fibric pulse fauna actyx atproto)

usage() {
    echo "soak.sh: $*" >&2
    echo "usage: reports/bench/soak.sh [DURATION]   (default 1h; see the head of this script)" >&2
    exit 2
}

[ $# -le 1 ] || usage "one argument at most, the duration"
duration=${1:-1h}
duration_s=$(python3 "$here/soak.py" seconds "$duration" 2>/dev/null) || usage "$duration is not a duration (try 30s, 10m, 1h)"
# The verdicts look at what follows a warm-up of at least 10 s.
python3 -c "import sys; sys.exit(float(sys.argv[1]) < 20)" "$duration_s" || usage "a soak takes 20s at least, not $duration"
tolerance=${SOAK_RSS_TOLERANCE:-0.05}
factor=${SOAK_P99_FACTOR:-3}
number='^[0-9]+([.][0-9]+)?$'
[[ $tolerance =~ $number ]] || usage "SOAK_RSS_TOLERANCE=$tolerance is not a fraction (say 0.05)"
[[ $factor =~ $number ]] || usage "SOAK_P99_FACTOR=$factor is not a number (say 3)"
[[ ${SOAK_MIN_AVAILABLE:-0.1} =~ $number ]] || usage "SOAK_MIN_AVAILABLE=$SOAK_MIN_AVAILABLE is not a fraction (say 0.1)"

declare -A subscribers rate batch
for api in "${apis[@]}"; do
    var="SOAK_${api^^}"
    spec=${!var:-${defaults[$api]}}
    read -r s r extra <<<"$spec" || true
    [[ ${s:-} =~ ^[1-9][0-9]*$ && ${r:-} =~ $number && $r =~ [1-9] && -z ${extra:-} ]] ||
        usage "$var=\"$spec\" is not \"SUBSCRIBERS RATE\" (say \"${defaults[$api]}\")"
    subscribers[$api]=$s
    rate[$api]=$r
    batch[$api]=1
done
for api in fibric actyx; do
    var="SOAK_BATCH_${api^^}"
    batch[$api]=${!var:-1}
    [[ ${batch[$api]} =~ ^[1-9][0-9]*$ ]] || usage "$var=${batch[$api]} is not a positive number"
done

if [ -n "${SOAK_BIN_DIR:-}" ]; then
    bin=$(cd "$SOAK_BIN_DIR" 2>/dev/null && pwd) || usage "SOAK_BIN_DIR=$SOAK_BIN_DIR is not a folder"
    for binary in harness reference-server; do
        [ -x "$bin/$binary" ] || usage "SOAK_BIN_DIR=$SOAK_BIN_DIR has no $binary"
    done
else
    (cd "$repo" && cargo build --release --quiet -p harness -p reference-server) ||
        { echo "soak.sh: the release build failed" >&2; exit 3; }
    bin="$repo/target/release"
fi

out=${SOAK_OUT:-$here/soak}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Only what an earlier run wrote goes; anything else in the folder stays.
for api in "${apis[@]}"; do rm -rf "${out:?}/$api" "$out/$api.log"; done
rm -f "$out/rss.csv" "$out/results.md" "$out/soak.svg" "$out/server.log" "$out/report.args"
ulimit -n "$(ulimit -Hn)"

# The command as run, with the settings that change it, for results.md.
command=
for var in SOAK_FIBRIC SOAK_PULSE SOAK_FAUNA SOAK_ACTYX SOAK_ATPROTO SOAK_BATCH_FIBRIC SOAK_BATCH_ACTYX \
    SOAK_RSS_TOLERANCE SOAK_P99_FACTOR SOAK_MIN_AVAILABLE; do
    if [ -n "${!var:-}" ]; then command+="$var=\"${!var}\" "; fi
done
command+="reports/bench/soak.sh $duration"

echo "soak: $duration; binaries from $bin; writing $out"
for api in "${apis[@]}"; do
    printf 'soak: %-8s %5d subscribers x %s events/s (batch %d)\n' \
        "$api" "${subscribers[$api]}" "${rate[$api]}" "${batch[$api]}"
done

# Everything started here is stopped by its PID on any exit.
server_pid=
declare -A pids
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local pid
    for pid in "${pids[@]}" ${server_pid:+"$server_pid"}; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}" ${server_pid:+"$server_pid"}; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$out/server-data"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Sampling reads /proc with shell builtins only (no process per sample), so
# that it costs next to nothing beside the load. CPU seconds are utime + stime
# over CLK_TCK; a process that has ended keeps its last CPU figure and has no
# RSS. machine_cpu_s is every core's busy time since the start (/proc/stat),
# so that other work on the machine (a build, say) shows as the difference.
clk_tck=$(getconf CLK_TCK)
declare -A cpu_ticks
rss=
read_rss() {
    local key value _
    rss=
    while read -r key value _; do
        if [ "$key" = VmRSS: ]; then rss=$value; return 0; fi
    done <"/proc/$1/status" 2>/dev/null || true
}
read_cpu() {
    local line fields
    read -r line <"/proc/$1/stat" 2>/dev/null || return 0
    read -r -a fields <<<"${line##*) }"
    cpu_ticks[$2]=$((fields[11] + fields[12]))
}
tcp_mem=
read_tcp_mem() {
    local proto rest fields i
    tcp_mem=
    while read -r proto rest; do
        [ "$proto" = TCP: ] || continue
        read -r -a fields <<<"$rest"
        for ((i = 0; i + 1 < ${#fields[@]}; i += 2)); do
            if [ "${fields[i]}" = mem ]; then tcp_mem=${fields[i + 1]}; fi
        done
    done </proc/net/sockstat
}
machine_ticks=0
read_machine() {
    local user nice system irq softirq steal _
    # cpu user nice system idle iowait irq softirq steal …
    read -r _ user nice system _ _ irq softirq steal _ </proc/stat
    machine_ticks=$((user + nice + system + irq + softirq + steal))
}
mem_available=0
mem_total=0
read_meminfo() {
    local key value _
    while read -r key value _; do
        case $key in
        MemTotal:) mem_total=$value ;;
        MemAvailable:) mem_available=$value; return 0 ;;
        esac
    done </proc/meminfo
}
# seconds TICKS: sets $secs to TICKS as seconds with two decimals.
secs=
seconds() { printf -v secs '%d.%02d' $(($1 * 100 / clk_tck / 100)) $(($1 * 100 / clk_tck % 100)); }

# A harness keeps growing if it holds on to memory; rather than let the
# kernel's OOM killer pick a victim on a shared machine, the run stops when
# less than SOAK_MIN_AVAILABLE (a fraction of MemTotal, default 0.1) is left.
min_available=${SOAK_MIN_AVAILABLE:-0.1}
read_meminfo
min_available_kib=$(python3 -c "import sys; print(int(float(sys.argv[1]) * int(sys.argv[2])))" "$min_available" "$mem_total")
stopped=

# The store: `disk` (default) keeps the log in a data directory under OUT
# (removed at the end), as a long-running server would; `memory` keeps every
# event in RAM, so the server's RSS grows with the log by design.
case ${SOAK_STORE:-disk} in
    disk) store=(--data-dir "$out/server-data") ;;
    memory) store=(--memory) ;;
    *) echo "soak.sh: SOAK_STORE is disk or memory, not ${SOAK_STORE}" >&2; exit 2 ;;
esac
start_server "$out/server.log" "$bin/reference-server" "${store[@]}"
started=$EPOCHREALTIME
for api in "${apis[@]}"; do
    args=(load --api "$api" --target "$url" --subscribers "${subscribers[$api]}" --rate "${rate[$api]}"
        --duration "$duration" --grace 5s --interval 1s --report-dir "$out/$api")
    if [ "${batch[$api]}" -gt 1 ]; then args+=(--batch "${batch[$api]}"); fi
    "$bin/harness" "${args[@]}" >"$out/$api.log" 2>&1 &
    pids[$api]=$!
done

csv="$out/rss.csv"
{
    printf 't_s,server_kib'
    printf ',%s_kib' "${apis[@]}"
    printf ',server_cpu_s,harness_cpu_s,tcp_mem_pages'
    printf ',%s_cpu_s' "${apis[@]}"
    printf ',machine_cpu_s,mem_available_kib\n'
} >"$csv"
start_us=${started/./}
read_machine
machine_start=$machine_ticks
tick=0
running=${#apis[@]}
while [ "$running" -gt 0 ]; do
    now_us=${EPOCHREALTIME/./}
    elapsed_us=$((now_us - start_us))
    printf -v row '%d.%03d' $((elapsed_us / 1000000)) $((elapsed_us / 1000 % 1000))
    read_rss "$server_pid"
    server_rss=$rss
    row+=",$rss"
    read_cpu "$server_pid" server
    running=0
    for api in "${apis[@]}"; do
        rss=
        if kill -0 "${pids[$api]}" 2>/dev/null; then
            running=$((running + 1))
            read_rss "${pids[$api]}"
            read_cpu "${pids[$api]}" "$api"
        fi
        row+=",$rss"
    done
    harness_ticks=0
    for api in "${apis[@]}"; do harness_ticks=$((harness_ticks + ${cpu_ticks[$api]:-0})); done
    read_tcp_mem
    read_machine
    read_meminfo
    seconds "${cpu_ticks[server]:-0}"
    row+=",$secs"
    seconds "$harness_ticks"
    row+=",$secs,$tcp_mem"
    for api in "${apis[@]}"; do
        seconds "${cpu_ticks[$api]:-0}"
        row+=",$secs"
    done
    seconds $((machine_ticks - machine_start))
    row+=",$secs,$mem_available"
    echo "$row" >>"$csv"
    if [ -z "$stopped" ] && [ "$mem_available" -lt "$min_available_kib" ]; then
        stopped="stopped at $((elapsed_us / 1000000)) s: $((mem_available / 1024)) MiB of memory left, less than $min_available of $((mem_total / 1024)) MiB"
        echo "soak: $stopped" >&2
        for api in "${apis[@]}"; do kill "${pids[$api]}" 2>/dev/null || true; done
    fi
    if [ $((tick % 60)) -eq 59 ]; then
        echo "soak: $((elapsed_us / 1000000)) s, server RSS $((${server_rss:-0} / 1024)) MiB, $running harnesses running, $((mem_available / 1024)) MiB available"
    fi
    tick=$((tick + 1))
    # The next sample on the next whole second since the start.
    wait_us=$((start_us + tick * 1000000 - ${EPOCHREALTIME/./}))
    if [ "$wait_us" -gt 0 ]; then
        printf -v pause '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000))
        sleep "$pause"
    fi
done

declare -A exits
for api in "${apis[@]}"; do
    status=0
    wait "${pids[$api]}" || status=$?
    exits[$api]=$status
    unset "pids[$api]"
done
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=

# The summary's arguments, one a line, kept beside the data so that
# `python3 reports/bench/soak.py report @OUT/report.args` can redo it.
report_args=("$out" --started "$started" --duration-s "$duration_s" --duration "$duration"
    --tolerance "$tolerance" --p99-factor "$factor" --command "$command" --stopped "$stopped"
    --store "${SOAK_STORE:-disk}"
    --binaries "$bin ($("$bin/harness" --version))")
for api in "${apis[@]}"; do
    report_args+=(--api "$api:${subscribers[$api]}:${rate[$api]}:${batch[$api]}:${exits[$api]}")
done
printf '%s\n' "${report_args[@]}" >"$out/report.args"
status=0
python3 "$here/soak.py" report "@$out/report.args" || status=$?
exit "$status"
