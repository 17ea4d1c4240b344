# Sourced by scripts/run and scripts/test (not run on its own): the repository
# root, the configuration defaults every process reads, the test databases, step
# banners with timings, and how to ask orderctl whether it has a subcommand yet.
# The sourcing script sets PROG (its name, for messages) and `set -euo pipefail`.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Configuration defaults (README, "Configuration"); a value already set wins.
export AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}"
export DATABASE_URL="${DATABASE_URL:-postgres://orders:orders@127.0.0.1:5432/ordersdb}"
export VENDOR_DATABASE_URLS="${VENDOR_DATABASE_URLS:-vendorA=postgres://orders:orders@127.0.0.1:5432/vendoradb,vendorB=postgres://orders:orders@127.0.0.1:5432/vendorbdb}"
export MIGRATIONS_DIR="${MIGRATIONS_DIR:-migrations}"
export LOG_LEVEL="${LOG_LEVEL:-info}"

say() { printf '%s\n' "$*"; }
die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
banner() { printf '\n==> %s\n' "$*"; }

show_configuration() {
    local name
    for name in AMQP_URL AMQP_URLS DATABASE_URL VENDOR_DATABASE_URLS QUORUM_INITIAL_GROUP_SIZE MIGRATIONS_DIR LOG_LEVEL; do
        [ -n "${!name:-}" ] || continue
        printf '    %s=%s\n' "$name" "${!name}"
    done | sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#g'  # passwords masked
}

require_swift() {
    command -v swift >/dev/null \
        || die "swift is not on PATH: install a Swift 6 toolchain (https://www.swift.org/install/linux/) and run again"
}

# --- Test databases -------------------------------------------------------------
# Tests never touch the databases scripts/run seeds for the demo: they use databases
# of their own, named after those with `_test` appended (ordersdb_test, ...).
# TestSupport's TestEnvironment derives the same names from the daemons' defaults
# when DATABASE_URL and VENDOR_DATABASE_URLS are unset, so a plain `swift test`
# lands there too.

# test_database_url URL: URL with `_test` appended to its database name, unless it ends so already.
test_database_url() {
    local url=$1 query='' name
    if [[ $url == *\?* ]]; then query="?${url#*\?}"; url=${url%%\?*}; fi
    if [[ ${url#*://} != */?* ]]; then  # no database name: nothing to rename
        printf '%s%s\n' "$url" "$query"
        return
    fi
    name=${url##*/}
    [[ $name == *_test ]] || name="${name}_test"
    printf '%s/%s%s\n' "${url%/*}" "$name" "$query"
}

# vendor_entries: VENDOR_DATABASE_URLS one `name=url` a line. A cluster's URLs hold
# commas between their hosts, so an entry starts only at `,name=scheme://`.
vendor_entries() {
    sed -E 's#,([^,=/]*=[A-Za-z][A-Za-z0-9+.-]*://)#\n\1#g' <<<"$VENDOR_DATABASE_URLS"
}

# use_test_databases: points DATABASE_URL and VENDOR_DATABASE_URLS at the test databases.
use_test_databases() {
    local entry entries urls=()
    DATABASE_URL=$(test_database_url "$DATABASE_URL")
    mapfile -t entries < <(vendor_entries)
    for entry in "${entries[@]}"; do
        urls+=("${entry%%=*}=$(test_database_url "${entry#*=}")")
    done
    VENDOR_DATABASE_URLS=$(IFS=','; printf '%s' "${urls[*]}")
    export DATABASE_URL VENDOR_DATABASE_URLS
}

# recreate_test_databases: drops and creates, empty, every database DATABASE_URL and
# VENDOR_DATABASE_URLS name (the `orders` role may create databases). Refuses a name
# that does not end in `_test`: a demo database is never dropped.
recreate_test_databases() {
    local url name server query entries
    command -v psql >/dev/null || { printf '%s: psql is not on PATH (scripts/services install puts it there)\n' "$PROG" >&2; return 1; }
    mapfile -t entries < <(vendor_entries)
    for url in "$DATABASE_URL" "${entries[@]#*=}"; do
        name=${url%%\?*}
        name=${name##*/}
        if [[ ! $name =~ ^[A-Za-z0-9_]+_test$ ]]; then
            printf '%s: refusing to recreate database "%s": a test database name ends in _test\n' "$PROG" "$name" >&2
            return 1
        fi
        server=${url%%\?*}
        query=''
        [[ $url == *\?* ]] && query="?${url#*\?}"
        server="${server%/*}/postgres${query}"
        PGOPTIONS="-c client_min_messages=warning" psql "$server" -v ON_ERROR_STOP=1 -qAt \
            -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\"" || return 1
        say "    $name: created, empty"
    done
}

# run_step TITLE COMMAND [ARGS...]: a banner, the command, its duration; stops the
# script with a clear message when the command fails. (A shell function given as
# COMMAND runs without `set -e`, so it must check its own failures.)
run_step() {
    local title=$1 started=$SECONDS rc=0
    shift
    banner "$title"
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf '%s: FAILED after %ds (exit %d): %s\n' "$PROG" $((SECONDS - started)) "$rc" "$title" >&2
        exit "$rc"
    fi
    printf -- '--- ok (%ds): %s\n' $((SECONDS - started)) "$title"
}

# orderctl_has ORDERCTL WORD...: does this orderctl build have the subcommand
# `WORD...` (e.g. `db seed`) yet? The exit status of `--help` alone cannot tell:
# ArgumentParser answers `orderctl db seed --help` with the help of `db` (exit 0)
# when `seed` does not exist, and the skeleton's orderctl ignores its arguments.
# So the help must also be that very command's: `USAGE: orderctl db seed ...`.
orderctl_has() {
    local orderctl=$1 help
    shift
    help=$("$orderctl" "$@" --help 2>&1) || return 1
    grep -qE "^USAGE: [^ ]+ $*( |\$)" <<<"$help"
}

# topology_declare_step ORDERCTL [FLAG...]: `orderctl topology declare FLAG...` as a step
# (skipped, and said so, when this orderctl has no `topology declare` yet).
topology_declare_step() {
    local orderctl=$1
    shift
    if orderctl_has "$orderctl" topology declare; then
        run_step "orderctl topology declare${*:+ $*}" "$orderctl" topology declare "$@"
    else
        orderctl_step "$orderctl" topology declare
    fi
}

# orderctl_step ORDERCTL WORD...: runs `orderctl WORD...` as a step (stopping the
# script if it fails) when orderctl has that command; says it skipped otherwise.
orderctl_step() {
    local orderctl=$1
    shift
    if orderctl_has "$orderctl" "$@"; then
        run_step "orderctl $*" "$orderctl" "$@"
    else
        banner "orderctl $*"
        say "skipped: orderctl has no '$*' yet"
    fi
}
