# Shared by the bench scripts (sourced, not run).

# start_server LOG BINARY ARGS...: starts `BINARY --listen 127.0.0.1:0 ARGS`
# in the background with its output in LOG, and waits up to 10 s for its
# "listening on URL" line. Sets `server_pid` and `url`; exits 3 when the
# server does not start.
start_server() {
    local log=$1 binary=$2
    shift 2
    # The log exists before the server starts, so the first read cannot fail.
    : >"$log"
    "$binary" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
    server_pid=$!
    url=
    for _ in $(seq 100); do
        url=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$log" | head -1)
        [ -n "$url" ] && return 0
        sleep 0.1
    done
    echo "the reference server did not start: $(cat "$log")" >&2
    exit 3
}
