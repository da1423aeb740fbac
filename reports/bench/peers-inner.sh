#!/usr/bin/env bash
# The body of peers.sh, run as the one command of a private network namespace:
#   unshare --net bash peers-inner.sh API REPEATS DURATION REPO PEER_BIN WORK OUT
set -euo pipefail
api=$1 repeats=$2 duration=$3 repo=$4 peer_bin=$5 work=$6 out=$7
harness="$HARNESS"
server="$SERVER"
# shellcheck source=lib.sh
source "$repo/reports/bench/lib.sh"
ip link set lo up

# The cells: the flags of one `harness load` run, named by them.
cells=()
case "$api" in
atproto)
    for writers in 1 4 16; do
        for subscribers in 1 10 100; do
            cells+=("--publishers $writers --subscribers $subscribers")
        done
    done
    ;;
actyx)
    for batch in 1 10 100; do
        for publishers in 1 4; do
            for subscribers in 1 10 100; do
                cells+=("--batch $batch --publishers $publishers --subscribers $subscribers")
            done
        done
    done
    ;;
esac

pid=
stop() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    pid=
}
trap stop EXIT

# Starts the peer; sets pid and url, and prints its version to the machine file.
start_peer() {
    local data=$1
    case "$api" in
    atproto)
        # start.mjs prints one ready line; closing its stdin stops it.
        coproc PEER { exec "$peer_bin" "$repo/harness/tests/clients/atproto-pds/start.mjs" 2>>"$work/peer.log"; }
        pid=$PEER_PID
        local ready=
        read -r -t 120 ready <&"${PEER[0]}" || { echo "the PDS did not start: $(tail -20 "$work/peer.log")" >&2; exit 3; }
        url=$(sed -n 's/.*"pds":"\([^"]*\)".*/\1/p' <<<"$ready")
        peer_version="@atproto/pds $(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' <<<"$ready")"
        ;;
    actyx)
        "$peer_bin" run --working-dir "$data" --bind-api 127.0.0.1:4454 --bind-admin 127.0.0.1:4458 \
            --bind-swarm 127.0.0.1:4001 --log-color 0 >>"$work/peer.log" 2>&1 &
        pid=$!
        url=http://127.0.0.1:4454
        for _ in $(seq 150); do
            curl -sf "$url/api/v2/node/id" >/dev/null && break
            sleep 0.2
        done
        curl -sf "$url/api/v2/node/id" >/dev/null || { echo "the Actyx node did not start: $(tail -20 "$work/peer.log")" >&2; exit 3; }
        peer_version="$("$peer_bin" --version)"
        ;;
    esac
}

start_reference() {
    local data=$1 log="$work/reference.log"
    start_server "$log" "$server" --data-dir "$data"
    pid=$server_pid
}

peer_version=
for rep in $(seq "$repeats"); do
    for who in peer reference; do
        data="$work/data-$who-$rep"
        if [ "$who" = peer ]; then start_peer "$data"; else start_reference "$data"; fi
        for cell in "${cells[@]}"; do
            name=$(tr -d -- '-' <<<"$cell" | tr ' ' '-' | sed 's/--*/-/g')
            dir="$out/runs/$who/$name/r$rep"
            mkdir -p "$dir"
            # shellcheck disable=SC2086 # a cell is a list of flags
            "$harness" load --api "$api" --target "$url" --rate max --duration "$duration" \
                --grace 10s $cell --report-dir "$work/report" >/dev/null 2>"$dir/stderr" || true
            if [ -f "$work/report/load.json" ]; then
                mv "$work/report/load.json" "$dir/load.json"
            fi
            rm -rf "$work/report"
            [ -s "$dir/stderr" ] || rm -f "$dir/stderr"
            echo "peers.sh: $who $cell r$rep done" >&2
        done
        stop
        rm -rf "$data"
    done
done

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo ' (with uncommitted changes)')"
    echo "binaries: $harness, $server"
    echo "peer: $peer_version"
    echo "cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) cores"
    echo "memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "disk: $(df -h "$work" | awk 'NR==2 {print $1}')"
    echo "repeats: $repeats, duration: $duration per cell, closed loop (--rate max), grace 10s"
} >"$out/machine.txt"
