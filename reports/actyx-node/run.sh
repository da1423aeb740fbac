#!/usr/bin/env bash
# The Actyx catalogue against the real Actyx node (crate `ax`), inside a private
# network namespace with loopback up, so the node's swarm cannot reach out.
#
#   apt-get install cmake protobuf-compiler && cargo install ax --locked
#   cargo build -p harness
#   reports/actyx-node/run.sh            # writes reports/actyx-node/report.{json,md}
#
# The node's known deviations from seed 003 are in expected.toml, passed as
# --expect: the run exits 0 while they fail as recorded, 1 on any other failure
# or when one of them is fixed (a stale entry).
#
# Needs root (unshare --net). AX=path/to/ax and HARNESS=path/to/harness override
# the binaries; extra arguments go to `harness check` (say --seed N).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ax="${AX:-$(command -v ax)}"
harness="${HARNESS:-$repo/target/debug/harness}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

unshare --net bash -s "$ax" "$harness" "$work" "$here" "$@" <<'INNER'
set -euo pipefail
ax="$1" harness="$2" work="$3" out="$4"
shift 4
ip link set lo up
"$ax" run --working-dir "$work/ax-data" --bind-api 127.0.0.1:4454 \
    --bind-admin 127.0.0.1:4458 --bind-swarm 127.0.0.1:4001 --log-color 0 \
    >"$work/ax.log" 2>&1 &
node=$!
trap 'kill "$node" 2>/dev/null; wait "$node" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf http://127.0.0.1:4454/api/v2/node/id >/dev/null && break
    sleep 0.2
done
"$ax" --version
status=0
"$harness" check --api actyx --target http://127.0.0.1:4454 \
    --expect "$out/expected.toml" \
    --report-dir "$work/report" --format markdown "$@" || status=$?
cp "$work/report/report.json" "$out/report.json"
cp "$work/report/report.md" "$out/report.md"
echo "harness exit code: $status"
INNER
