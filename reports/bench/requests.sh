#!/usr/bin/env bash
# Request-load benchmark: `harness load --users` (its direct engine, and goose)
# beside oha and wrk on one reference-server endpoint, same connections, same
# duration, in one run; with the CPU seconds each tool and the server used.
#
#   reports/bench/requests.sh [CONNECTIONS] [SECONDS] [ROUNDS]    (defaults: 50 10 3)
#
# Needs oha (`cargo install oha --locked`) and wrk (Debian `wrk`). The endpoint
# is Fibric's list, GET /v1/events?event_type=harness.load&limit=100 with the
# dev API key, on a `reference-server --memory` (release build) whose log stays
# empty, so every answer is the same. The tools take turns, ROUNDS times, and
# the medians of their requests per second are printed with each one's ratio
# to the harness (direct engine), and the CPU seconds per 100,000 requests of
# the tool and of the server (getrusage of the tool, /proc of the server). Tool and server share this machine's cores, as they would in
# CI. Writes the raw outputs to reports/bench/requests/.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib.sh
source reports/bench/lib.sh
connections=${1:-50}
seconds=${2:-10}
rounds=${3:-3}
out=reports/bench/requests
for tool in oha wrk; do
    command -v "$tool" >/dev/null || { echo "requests.sh: $tool is not installed (oha: cargo install oha --locked; wrk: apt-get install wrk)" >&2; exit 2; }
done
cargo build --release --quiet -p harness -p reference-server
rm -rf "$out"
mkdir -p "$out"

log=$(mktemp)
server_pid=
trap 'kill $server_pid 2>/dev/null; rm -f "$log"' EXIT
start_server "$log" target/release/reference-server --memory
endpoint="$url/v1/events?event_type=harness.load&limit=100"
auth="Authorization: Bearer sk_test_tenant_a"
# Every tool must get 200s: a refused request would be cheap and fast.
curl -sf -H "$auth" "$endpoint" >/dev/null

# server_cpu: the server's user+system CPU seconds so far.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$server_pid/stat"; }
# measured NAME COMMAND...: runs COMMAND, writing the tool's and the server's CPU seconds to $out/NAME.cpu.
measured() {
    local name=$1 before
    shift
    before=$(server_cpu)
    /usr/bin/time -f "%U %S" -o "$out/$name.time" "$@"
    echo "$(awk '{print $1 + $2}' "$out/$name.time") $(echo "$(server_cpu) - $before" | bc -l)" >"$out/$name.cpu"
    rm -f "$out/$name.time"
}

for round in $(seq "$rounds"); do
    for engine in direct goose; do
        measured "$engine-$round" target/release/harness load --api fibric --target "$url" --users "$connections" \
            --duration "${seconds}s" --endpoint list --request-engine "$engine" --report-dir "$out/$engine-$round" >/dev/null 2>"$out/$engine-$round.stderr"
        [ -s "$out/$engine-$round.stderr" ] || rm -f "$out/$engine-$round.stderr"
    done
    measured "oha-$round" oha --no-tui -z "${seconds}s" -c "$connections" -H "$auth" --output-format json "$endpoint" >"$out/oha-$round.json"
    measured "wrk-$round" wrk -t 2 -c "$connections" -d "${seconds}s" --latency -H "$auth" "$endpoint" >"$out/wrk-$round.txt"
done

python3 - "$out" "$rounds" "$connections" "$seconds" <<'PY'
import json, re, statistics, sys
out, rounds, connections, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def harness(engine):
    def read(r):
        load = json.load(open(f"{out}/{engine}-{r}/load.json"))
        assert load["counters"]["request_errors"] == 0, load["counters"]
        assert load["requests"]["engine"] == engine, load["requests"]["engine"]
        return load["rates"]["request_rate"], load["histograms"]["request"]["p50"] / 1000, load["histograms"]["request"]["p99"] / 1000
    return read
def oha(r):
    report = json.load(open(f"{out}/oha-{r}.json"))
    codes = report.get("statusCodeDistribution", {})
    assert set(codes) <= {"200"}, codes
    p = report["latencyPercentiles"]
    return report["summary"]["requestsPerSec"], p["p50"] * 1000, p["p99"] * 1000
def wrk(r):
    text = open(f"{out}/wrk-{r}.txt").read()
    assert "Non-2xx" not in text, text
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def ms(label):
        m = re.search(r"^\s+" + label + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    return rps, ms("50%"), ms("99%")
def cpu(name, r, rps):
    """CPU seconds of the tool and of the server per 100,000 requests."""
    tool, server = (float(x) for x in open(f"{out}/{name}-{r}.cpu").read().split())
    requests = rps * float(seconds)
    return tool / requests * 1e5, server / requests * 1e5
rows = []
tools = [("harness load --users (direct)", "direct", harness("direct")), ("harness load --users (goose)", "goose", harness("goose")),
         ("oha", "oha", oha), ("wrk", "wrk", wrk)]
for name, key, read in tools:
    runs = [read(r) for r in range(1, rounds + 1)]
    cpus = [cpu(key, r, run[0]) for r, run in zip(range(1, rounds + 1), runs)]
    rows.append((name, statistics.median(x[0] for x in runs), [round(x[0]) for x in runs],
                 statistics.median(x[1] for x in runs), statistics.median(x[2] for x in runs),
                 statistics.median(c[0] for c in cpus), statistics.median(c[1] for c in cpus)))
base = rows[0][1]
print(f"{connections} connections, {seconds} s per run, {rounds} rounds, medians:\n")
print("| tool | requests/s | harness (direct) ÷ tool | runs | p50 ms | p99 ms | tool CPU s per 100k | server CPU s per 100k |")
print("|---|---:|---:|---|---:|---:|---:|---:|")
for name, rps, runs, p50, p99, tool_cpu, server_cpu in rows:
    fmt = lambda v: "–" if v != v else f"{v:.2f}"
    print(f"| {name} | {rps:.0f} | {base / rps:.2f} | {', '.join(map(str, runs))} | {fmt(p50)} | {fmt(p99)} | {tool_cpu:.2f} | {server_cpu:.2f} |")
PY
