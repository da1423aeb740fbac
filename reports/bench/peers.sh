#!/usr/bin/env bash
# Side by side: the reference server against a real peer, the same `harness
# load` workload against both, in one private network namespace.
#
#   reports/bench/peers.sh atproto [REPEATS] [DURATION]   # the official PDS
#   reports/bench/peers.sh actyx   [REPEATS] [DURATION]   # the Actyx node (ax)
#
# Defaults: 3 repeats of 5s per cell. Needs root (unshare --net), release
# builds (made here), and the peer:
# - atproto: `npm ci --prefix harness/tests/clients/atproto-pds` (the PDS and a
#   local PLC, started by its start.mjs: dev mode, invites off, no crawlers);
# - actyx: `apt-get install cmake protobuf-compiler && cargo install ax --locked`
#   (AX=path overrides `ax` on the PATH).
#
# Each repeat starts the peer, runs every cell against it, stops it, then does
# the same with a durable `reference-server --data-dir` (fresh data each
# time), so both meet the same machine state in turn. A cell is a closed-loop
# run (`--rate max`): the publishers send back to back, so `publish_rate` is
# what the server accepts. Every run's load.json is kept under
# reports/bench/peers/<api>/runs/; compare.py prints the medians and the
# ratios reference / peer, and writes results.md and results.json beside them.
#
# HARNESS=path and SERVER=path run other builds (say a baseline from an older
# commit) instead of building this tree; OUT=dir writes the runs elsewhere.
set -euo pipefail
api=${1:?usage: peers.sh atproto|actyx [REPEATS] [DURATION]}
repeats=${2:-3}
duration=${3:-5s}
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${OUT:-$here/peers/$api}"
case "$api" in
atproto) peer_bin="$repo/harness/tests/clients/atproto-pds/node_modules/.bin/node" ;;
actyx) peer_bin="${AX:-$(command -v ax || true)}" ;;
*) echo "peers.sh: no peer for $api (atproto or actyx)" >&2; exit 2 ;;
esac
[ -x "$peer_bin" ] || { echo "peers.sh: the $api peer is not installed (see the head of this script)" >&2; exit 2; }
if [ -z "${HARNESS:-}" ] || [ -z "${SERVER:-}" ]; then
    (cd "$repo" && cargo build --release --quiet -p harness -p reference-server)
fi
export HARNESS="${HARNESS:-$repo/target/release/harness}"
export SERVER="${SERVER:-$repo/target/release/reference-server}"
rm -rf "$out/runs"
mkdir -p "$out/runs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)"

unshare --net bash "$here/peers-inner.sh" "$api" "$repeats" "$duration" "$repo" "$peer_bin" "$work" "$out"
python3 "$here/compare.py" "$out"
