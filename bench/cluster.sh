#!/usr/bin/env bash
# Servers for bench/load.py, on loopback, everything under DIR (nothing system-wide).
#
#   bench/cluster.sh start DIR      PostgreSQL + Redis (scripts/services.sh) and PROCESSES Daphne processes
#                                   (default 2) sharing them, as the README's "Running several server processes"
#   bench/cluster.sh embedded DIR   one Daphne process on SQLite with the in-memory channel layer (the default)
#   bench/cluster.sh urls DIR       the --url arguments for bench/load.py
#   bench/cluster.sh stop DIR       stop the Daphne processes, then PostgreSQL and Redis (safe to repeat)
#
#   bench/cluster.sh start /tmp/mmp-bench
#   .venv/bin/python bench/load.py $(bench/cluster.sh urls /tmp/mmp-bench) --viewers 100 --writers 4
#   bench/cluster.sh stop /tmp/mmp-bench
#
# Ports: BASE_PORT (default 8001) and up; a port already taken is replaced by a free one. Logs and pids
# are DIR/daphne-<port>.log and .pid. PLAYGROUND_* settings in the environment reach the servers.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=$REPO/.venv/bin/python
DAPHNE=$REPO/.venv/bin/daphne

usage() {
    sed -n '2,15p' "$0" >&2
    exit 2
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_healthy() {
    local url=$1 log=$2
    for _ in $(seq 300); do
        if "$PYTHON" - "$url" <<'EOF' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/api/v1/health", timeout=2) as answer:
    sys.exit(0 if answer.status == 200 else 1)
EOF
            return 0
        fi
        sleep 0.2
    done
    echo "cluster.sh: $url did not answer /api/v1/health; see $log" >&2
    tail -n 20 "$log" >&2 || true
    return 1
}

# Start PROCESSES Daphne processes with the environment exported by the caller.
start_daphnes() {
    local dir=$1 count=$2 port=${BASE_PORT:-8001} started=0
    : >"$dir/urls"
    while [ "$started" -lt "$count" ]; do
        local use=$port
        port_free "$use" || use=$(free_port)
        (cd "$REPO" && exec "$DAPHNE" -b 127.0.0.1 -p "$use" playground.asgi:application) \
            >"$dir/daphne-$use.log" 2>&1 &
        echo $! >"$dir/daphne-$use.pid"
        echo "http://127.0.0.1:$use" >>"$dir/urls"
        started=$((started + 1))
        port=$((port + 1))
    done
    while read -r url; do
        wait_healthy "$url" "$dir/daphne-${url##*:}.log"
    done <"$dir/urls"
}

common_env() {
    local dir=$1
    mkdir -p "$dir/data"
    [ -f "$dir/secret" ] || "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$dir/secret"
    export SECRET_KEY
    SECRET_KEY=$(cat "$dir/secret")
    export PLAYGROUND_DATA_DIR=$dir/data DJANGO_SETTINGS_MODULE=playground.settings
    export PLAYGROUND_LOG_LEVEL=${PLAYGROUND_LOG_LEVEL:-WARNING}
    unset DEBUG
}

start() {
    local dir=$1
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    common_env "$dir"
    "$REPO/scripts/services.sh" start "$dir/services" >/dev/null
    eval "$("$REPO/scripts/services.sh" env "$dir/services")"
    (cd "$REPO" && "$PYTHON" manage.py migrate --noinput -v 0)
    start_daphnes "$dir" "${PROCESSES:-2}"
    report "$dir"
}

embedded() {
    local dir=$1
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    common_env "$dir"
    unset DATABASE_URL REDIS_URL
    (cd "$REPO" && "$PYTHON" manage.py migrate --noinput -v 0)
    start_daphnes "$dir" 1
    report "$dir"
}

report() {
    local dir=$1
    while read -r url; do
        echo "$url $(curl -s "$url/api/v1/health" 2>/dev/null || true)"
    done <"$dir/urls"
    echo "load.py arguments: $(urls "$dir")"
}

urls() {
    local dir=$1
    [ -f "$dir/urls" ] || { echo "cluster.sh: nothing started under $dir" >&2; exit 1; }
    sed 's/^/--url /' "$dir/urls" | tr '\n' ' '
    echo
}

stop() {
    local dir=$1 pidfile pid
    for pidfile in "$dir"/daphne-*.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.2
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    done
    rm -f "$dir/urls"
    if [ -d "$dir/services" ]; then
        "$REPO/scripts/services.sh" stop "$dir/services"
    fi
}

[ $# -eq 2 ] || usage
case "$1" in
    start) start "$2" ;;
    embedded) embedded "$2" ;;
    urls) urls "$2" ;;
    stop) stop "$2" ;;
    *) usage ;;
esac
