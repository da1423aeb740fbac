#!/usr/bin/env bash
# Runs the harness's AT Protocol catalogue against the official PDS and a local PLC,
# both started here by start.mjs. Meant to run as the one command of a private
# network namespace, so neither server nor the harness can reach outside:
#
#   unshare --net bash check.sh HARNESS WORK_DIR [more harness check args...]
#
# Writes the report to WORK_DIR/report (report.json) and the servers' stderr to
# WORK_DIR/pds.log; exits with the harness's status.
set -uo pipefail

harness=$1
work=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

ip link set lo up

# A ten-second replay window, with an account made and aged out of it before
# the harness starts, so that atproto/cursor/outdated-cursor meets a real
# OutdatedCursor (the default window is a day, and nothing would be outdated).
export PDS_REPO_BACKFILL_LIMIT_MS="${PDS_REPO_BACKFILL_LIMIT_MS:-10000}"

# The servers read stdin: closing it stops them. Node 24 with better-sqlite3
# has been seen to abort at startup on a loaded machine (an assertion in a
# Statement destructor, RemoveEnvironmentCleanupHook); a second start is then
# clean, so a start that dies is tried up to three times, every log kept.
: >"$work/pds.log"
ready=
for attempt in 1 2 3; do
    coproc SERVERS { exec "$here/node_modules/.bin/node" "$here/start.mjs" 2>>"$work/pds.log"; }
    servers_pid=$SERVERS_PID
    if read -r -t 90 ready <&"${SERVERS[0]}"; then
        break
    fi
    ready=
    kill "$servers_pid" 2>/dev/null
    wait "$servers_pid" 2>/dev/null
    echo "check.sh: start $attempt of the PLC and PDS failed" >&2
done
if [ -z "$ready" ]; then
    echo "check.sh: the PLC and PDS did not start in three tries of 90 s; their log:" >&2
    cat "$work/pds.log" >&2
    exit 97
fi
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$ready"; }
plc=$(field plc)
pds=$(field pds)
echo "check.sh: $ready" >&2

"$harness" check --api atproto --target "$pds" --plc-url "$plc" \
    --report-dir "$work/report" "$@"
status=$?

exec {SERVERS[1]}>&-
wait "$servers_pid" 2>/dev/null
exit "$status"
