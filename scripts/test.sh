#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine, then runs all of it.
#
#   ./scripts/test.sh                 ruff, then two pytest runs:
#                                       1. the whole suite on the embedded defaults (SQLite + in-memory
#                                          layer), browser tests included, tests/services left out;
#                                       2. tests/services and tests/playground on a throwaway PostgreSQL
#                                          and Redis (PLAYGROUND_REQUIRE_SERVICES=1: a skip is a failure)
#   ./scripts/test.sh PYTEST_ARGS...  one pytest run with those arguments, PostgreSQL and Redis running
#                                     and DATABASE_URL/REDIS_URL exported
#
# As root it apt-installs what is missing (chromium, fonts-dejavu-core, redis-server, postgresql,
# python3-venv); otherwise it uses sudo. PostgreSQL and Redis live under a temporary directory on
# loopback and are stopped on exit, whatever happens. Exits non-zero on any failure, including
# "no tests collected" (pytest's exit code 5).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -d /usr/share/fonts/truetype/dejavu ] || need_apt+=(fonts-dejavu-core)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
[ -x .venv/bin/python ] || python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "test.sh: apt-get install ${need_apt[*]}"
    $SUDO apt-get update -qq
    # Debian's policy-rc.d in containers keeps apt from starting the services; we start our own anyway.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true

# A lint failure fails the run, but the tests still run: one CI pass reports everything.
status=0
echo "test.sh: ruff"
.venv/bin/ruff check allocator playground tests bench scripts || status=1

RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/mmp-test.XXXXXX")
cleanup() {
    scripts/services.sh stop "$RUNDIR" || true
    rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "test.sh: starting PostgreSQL and Redis under $RUNDIR"
SERVICES_ENV=$(scripts/services.sh start "$RUNDIR")

# pytest's status, with "no tests collected" (5) counted as a failure.
run_pytest() {
    local status=0
    .venv/bin/python -m pytest "$@" || status=$?
    if [ "$status" -eq 5 ]; then
        echo "test.sh: pytest collected no tests for: $*" >&2
        status=1
    fi
    return "$status"
}

# A data directory of our own: the SQLite test database must not collide with a running playground
# or with another test run on the same checkout.
export PLAYGROUND_DATA_DIR="$RUNDIR/data"

if [ $# -gt 0 ]; then
    (eval "$SERVICES_ENV"; run_pytest "$@") || status=1
    exit "$status"
fi

echo "test.sh: pytest, embedded defaults (SQLite + in-memory channel layer)"
(unset DATABASE_URL REDIS_URL; run_pytest --ignore=tests/services) || status=1

echo "test.sh: pytest, PostgreSQL + Redis (tests/services, tests/playground)"
(
    eval "$SERVICES_ENV"
    export PLAYGROUND_REQUIRE_SERVICES=1
    run_pytest tests/services tests/playground
) || status=1

[ "$status" -eq 0 ] && echo "test.sh: all passed" || echo "test.sh: FAILED" >&2
exit "$status"
