#!/usr/bin/env bash
# The crash test at the documented scale: 100 SIGKILLs per API (Actyx, AT
# Protocol, Fauna) while the load adapter publishes, then the delivery oracle
# over everything read back. Prints one `crash_load <api>: …` line per API,
# the numbers reports/crash/README.md quotes.
#
# Usage: reports/crash/run.sh [KILLS]   (STREAMCHECK_CRASH_SEED=N replays a seed)
#
# It runs through `cargo test`, not nextest: the workspace's nextest profile
# ends any test after 3 minutes, and a run at this scale takes longer. The APIs
# run one after another (--test-threads=1), each with the machine to itself.
set -euo pipefail
cd "$(dirname "$0")/../.."

export STREAMCHECK_CRASH_KILLS="${1:-100}"
cargo test -p harness --test it -- crash_load:: \
    --skip the_crash_load_test_catches \
    --test-threads=1 --nocapture 2>&1 | tee "${TMPDIR:-/tmp}/crash-load-run.log" |
    grep -E '^(crash_load |test |test result)|panicked|violations\)'
