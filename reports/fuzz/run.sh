#!/usr/bin/env bash
# Runs each cargo-fuzz target for N inputs (default 1,000,000), one at a time, and prints a summary line per target.
#
#   reports/fuzz/run.sh [N] [TARGET...]
#
# Each target starts from its own corpus (fuzz/corpus/<target>, written by
# libFuzzer and never committed) plus the hand-made seeds in
# fixtures/fuzz/<target> (read only: libFuzzer writes into the first corpus
# directory only). Full libFuzzer logs go to fuzz/target/fuzz-logs/. A crash
# stops that target and leaves its input in fuzz/artifacts/<target>/; the
# script goes on with the next target and exits non-zero at the end.
#
# Sanitizer `none`: the workspace forbids unsafe code, so AddressSanitizer
# would mostly slow the runs down; panics, overflow checks and debug
# assertions stay on (cargo fuzz's default release build with -a).
set -uo pipefail

runs=${1:-1000000}
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
all=(sse jsonl cbor frame car cid aql fql http_fibric http_pulse http_fauna http_actyx http_atproto http_control)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
logs="$root/fuzz/target/fuzz-logs"
mkdir -p "$logs"

# The longest input per target: stream decoders and codecs take up to 64 KiB; queries and
# request bodies are small, and shorter inputs keep the server targets fast.
max_len() {
  case $1 in
    aql | fql) echo 8192 ;;
    http_*) echo 4096 ;;
    *) echo 65536 ;;
  esac
}

# Build every target first, so the wall time below is fuzzing time only.
(cd "$root/fuzz" && cargo +nightly fuzz build -s none) || exit 2

failed=0
printf '%-13s %10s %8s %9s %7s %7s %12s %7s %s\n' target runs wall_s exec/s cov ft corp rss_mb crashes
for target in "${targets[@]}"; do
  corpus="$root/fuzz/corpus/$target"
  mkdir -p "$corpus"
  log="$logs/$target.log"
  start=$(date +%s)
  (cd "$root/fuzz" && cargo +nightly fuzz run -s none "$target" "$corpus" "$root/fixtures/fuzz/$target" -- \
    -runs="$runs" -max_len="$(max_len "$target")" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1) \
    >"$log" 2>&1
  status=$?
  wall=$(($(date +%s) - start))
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  done_runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  execs=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  rss=$(grep -oE 'stat::peak_rss_mb: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | grep -oE '[0-9]+')
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$done_line" | cut -d' ' -f2)
  crashes=$(ls "$root/fuzz/artifacts/$target" 2>/dev/null | grep -cE '^(crash|timeout|oom|leak)-')
  [ "$status" -ne 0 ] && failed=1
  printf '%-13s %10s %8s %9s %7s %7s %12s %7s %s\n' "$target" "${done_runs:-?}" "$wall" "${execs:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$crashes$([ "$status" -ne 0 ] && echo " (exit $status, see $log)")"
done
exit $failed
