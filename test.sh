#!/usr/bin/env bash
# The test command. On a Debian machine with the Rust toolchain it installs what
# the tests need, then runs cargo fmt --check, clippy and every test with
# nextest, and ends with a summary: how many tests ran and passed, which did not
# run, and why. It takes no arguments; after one run, `cargo nextest run FILTER`
# runs a few tests.
#
# What it installs (each step is skipped when its result is already there):
#   - Debian packages the tests' needs name (curl, libxml2-utils, python3-venv),
#     with apt-get as root or through passwordless sudo; otherwise it prints the
#     list to install by hand and the tests that need them do not run;
#   - cargo-nextest, when `cargo nextest` is missing;
#   - the pinned real clients in */tests/clients/: `npm ci` for package-lock.json
#     (Node.js 20 or newer; node_modules is cached by its lock file's hash under
#     $STREAMCHECK_CACHE, default ~/.cache/streamcheck), a .venv with pip for
#     requirements.txt.
#
# What it reads:
#   STREAMCHECK_SHARED        the folder with vectors/atproto-interop-tests; default
#                             ../shared beside the checkout, or beside the
#                             repository it was cloned from
#   CI                        set: every need must be met; one that is not fails
#                             the run before anything is built
#   STREAMCHECK_REAL_CLIENTS  set: every real client must be installed, likewise
#
# testenv/ knows each need and the tests that have it; `testenv plan` says which
# are missing, and those tests are left out of the nextest run and named in the
# summary. Exit status: 0 when everything that ran passed, else non-zero.
set -euo pipefail
cd "$(dirname "$0")"

NEXTEST_VERSION='0.9.143'
started=$SECONDS

say() { printf 'test.sh: %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
    say "cargo is missing: install the Rust toolchain (https://rustup.rs), then run ./test.sh again"
    exit 2
fi
target="${CARGO_TARGET_DIR:-target}"

# The helper that knows the needs; it has no dependencies, so it builds in seconds.
cargo build --quiet --locked -p testenv
testenv() { "$target/debug/testenv" "$@"; }

profile=default
if testenv ci; then
    # CI builds from clean: incremental compilation would only cost time and disk.
    profile=ci
    export CARGO_INCREMENTAL=0
fi

# The interop vectors: a clean clone made elsewhere (say in /tmp) finds them
# beside the repository it was cloned from.
if [ -z "${STREAMCHECK_SHARED:-}" ] && [ ! -d ../shared/vectors ]; then
    origin="$(git config --get remote.origin.url 2>/dev/null || true)"
    if [ -n "$origin" ] && [ -d "${origin%/}/../shared/vectors" ]; then
        STREAMCHECK_SHARED="$(cd "${origin%/}/../shared" && pwd)"
        export STREAMCHECK_SHARED
    fi
fi

install_debian() {
    local packages
    mapfile -t packages < <(testenv debian)
    ((${#packages[@]})) || return 0
    local sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo_cmd=(sudo -n)
        else
            say "installing ${packages[*]} needs root; install them by hand (apt-get install ${packages[*]}). Until then, the tests that need them do not run."
            return 0
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "no apt-get here; install by hand what provides: ${packages[*]}"
        return 0
    fi
    say "installing Debian packages: ${packages[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

install_nextest() {
    cargo nextest --version >/dev/null 2>&1 && return 0
    say "installing cargo-nextest $NEXTEST_VERSION"
    cargo install cargo-nextest --locked --version "$NEXTEST_VERSION"
}

# An npm folder's node_modules is keyed by its lock file, .npmrc, the Node
# version and the machine; the key is stamped into node_modules, and a copy of
# node_modules is kept in the cache (the PDS compiles SQLite for six minutes).
install_npm() {
    local client=$1 node_major
    if ! command -v node >/dev/null 2>&1; then
        say "no Node.js: ${client} is not installed (it needs Node.js 20 or newer and npm)"
        return 0
    fi
    node_major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$node_major" -lt 20 ]; then
        say "Node.js $(node --version) is older than 20: ${client} is not installed"
        return 0
    fi
    local key archive stamp="$client/node_modules/.streamcheck-key"
    key="$( (cat "$client/package-lock.json" "$client/.npmrc" 2>/dev/null; node --version; uname -m) | sha256sum | cut -c1-32)"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && return 0
    archive="$npm_cache/$key.tar"
    rm -rf "$client/node_modules"
    if [ -f "$archive" ] && tar -xf "$archive" -C "$client" 2>/dev/null; then
        say "${client} from the cache ($key)"
    else
        say "npm ci in ${client}"
        if ! npm ci --prefix "$client" --no-audit --no-fund --loglevel=error; then
            rm -rf "$client/node_modules"
            say "npm ci failed in ${client}: its tests will not run"
            return 0
        fi
        mkdir -p "$npm_cache"
        { tar -cf "$archive.$$" -C "$client" node_modules && mv "$archive.$$" "$archive"; } ||
            rm -f "$archive.$$"
    fi
    echo "$key" >"$stamp"
}

install_venv() {
    local client=$1
    local key stamp="$client/.venv/.streamcheck-key"
    command -v python3 >/dev/null 2>&1 || return 0
    key="$( (cat "$client/requirements.txt"; python3 --version) | sha256sum | cut -c1-32)"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && return 0
    say "pip install -r $client/requirements.txt into $client/.venv"
    if python3 -m venv "$client/.venv" &&
        "$client/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$client/requirements.txt"; then
        echo "$key" >"$stamp"
    else
        rm -rf "$client/.venv"
        say "installing ${client} failed: its tests will not run"
    fi
}

install_debian
install_nextest
npm_cache="${STREAMCHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamcheck}/npm"
for client in */tests/clients/*/; do
    client=${client%/}
    if [ -f "$client/package-lock.json" ]; then
        install_npm "$client"
    elif [ -f "$client/requirements.txt" ]; then
        install_venv "$client"
    fi
done

# What is still missing: under CI or STREAMCHECK_REAL_CLIENTS that is an error
# now, before a build; otherwise the tests that need it are left out.
if ! left_out="$(testenv plan)"; then
    say "stopping: a need above is missing, and the environment says every one must be met"
    exit 1
fi
say "set-up took $((SECONDS - started)) s"

# A clean build needs about 10 GB; say so plainly instead of failing in the linker.
avail_kb="$(df -Pk . | awk 'NR==2 {print $4}')"
if [ "${avail_kb:-0}" -lt 12000000 ]; then
    say "only $((avail_kb / 1024 / 1024)) GB free here; a clean build needs about 10 GB"
fi

filter=()
[ -n "$left_out" ] && filter=(-E "not ($left_out)")
junit="$target/nextest/$profile/junit.xml"
rm -f "$junit"

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
status=0
cargo nextest run --workspace --locked --profile "$profile" "${filter[@]}" || status=$?
testenv summary "$junit" || status=1
say "took $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
exit "$status"
