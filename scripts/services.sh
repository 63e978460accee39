#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis on loopback, for the tests, the load benchmark and trying out several
# server processes. Nothing is installed or started system-wide: both live under RUNDIR and stop with it.
#
#   scripts/services.sh start RUNDIR   start both (ports: PG_PORT, default 54329; REDIS_PORT, default 6390;
#                                      a port already taken is replaced by a free one) and write RUNDIR/env
#   scripts/services.sh stop RUNDIR    stop both (safe to call twice, or after a failed start)
#   scripts/services.sh env RUNDIR     print the export lines: DATABASE_URL, REDIS_URL
#
#   eval "$(scripts/services.sh start /tmp/mmp)"   # start and export in the current shell
#
# PostgreSQL runs with fsync off (test data only). initdb and pg_ctl refuse to run as root, so as root
# they run as the 'postgres' user that Debian's postgresql package creates.
set -euo pipefail

PG_USER_NAME=playground
PG_PASSWORD=playground
PG_DB=playground

usage() {
    sed -n '2,12p' "$0" >&2
    exit 2
}

pg_bin() {
    local initdb
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$initdb" ] || initdb=$(command -v initdb || true)
    [ -n "$initdb" ] || { echo "services.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
    dirname "$initdb"
}

# Run a PostgreSQL server command as a user it accepts.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The wanted port if nobody listens on it, else one the kernel hands out.
pick_port() {
    if port_free "$1"; then
        echo "$1"
    else
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    fi
}

env_lines() {
    local rundir=$1
    # shellcheck disable=SC1091
    . "$rundir/ports"
    echo "export DATABASE_URL=postgres://$PG_USER_NAME:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
    echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}

start_redis() {
    local rundir=$1 port=$2
    mkdir -p "$rundir/redis"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --dir "$rundir/redis" --daemonize yes --pidfile "$rundir/redis/redis.pid" \
        --logfile "$rundir/redis/redis.log" >/dev/null
    for _ in $(seq 50); do
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    echo "services.sh: redis did not answer on port $port; see $rundir/redis/redis.log" >&2
    return 1
}

start_postgres() {
    local rundir=$1 port=$2 bin
    bin=$(pg_bin)
    mkdir -p "$rundir/pgdata" "$rundir/pgsock"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$rundir/pgdata" "$rundir/pgsock"
    chmod 700 "$rundir/pgdata"
    as_pg "$bin/initdb" -D "$rundir/pgdata" -A trust -U postgres --no-sync >/dev/null
    # The log lives in the data directory: the only place the postgres user can surely write.
    as_pg "$bin/pg_ctl" -D "$rundir/pgdata" -l "$rundir/pgdata/server.log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p $port -k $rundir/pgsock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null
    # CREATEDB: the test suite creates test_<name> and the services tests their own databases.
    psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE $PG_USER_NAME LOGIN PASSWORD '$PG_PASSWORD' CREATEDB" \
        -c "CREATE DATABASE $PG_DB OWNER $PG_USER_NAME" >/dev/null
}

start() {
    local rundir=$1
    mkdir -p "$rundir"
    # The postgres user must be able to reach its data directory inside RUNDIR.
    chmod 755 "$rundir"
    local pg_port redis_port
    pg_port=$(pick_port "${PG_PORT:-54329}")
    redis_port=$(pick_port "${REDIS_PORT:-6390}")
    printf 'PG_PORT=%s\nREDIS_PORT=%s\n' "$pg_port" "$redis_port" >"$rundir/ports"
    start_redis "$rundir" "$redis_port"
    start_postgres "$rundir" "$pg_port"
    env_lines "$rundir" | tee "$rundir/env"
}

stop() {
    local rundir=$1
    [ -f "$rundir/ports" ] || return 0
    # shellcheck disable=SC1091
    . "$rundir/ports"
    if [ -f "$rundir/pgdata/postmaster.pid" ]; then
        as_pg "$(pg_bin)/pg_ctl" -D "$rundir/pgdata" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -f "$rundir/redis/redis.pid" ]; then
        redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 \
            || kill "$(cat "$rundir/redis/redis.pid")" 2>/dev/null || true
        rm -f "$rundir/redis/redis.pid"
    fi
}

[ $# -eq 2 ] || usage
case "$1" in
    start) start "$2" ;;
    stop) stop "$2" ;;
    env) env_lines "$2" ;;
    *) usage ;;
esac
