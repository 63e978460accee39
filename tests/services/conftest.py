"""Real PostgreSQL, real Redis and real Daphne processes: the shared deployment, end to end.

The tests here run only when ``DATABASE_URL`` names a reachable PostgreSQL and ``REDIS_URL`` a reachable
Redis (``scripts/services.sh start DIR`` provides both; ``scripts/test.sh`` does it for you). Otherwise
they are skipped with the reason, except under ``PLAYGROUND_REQUIRE_SERVICES=1`` (set by ``.ci/run``
through ``scripts/test.sh``), where an unreachable service is a failure: CI must never pass by skipping.

Every test session gets a database of its own (created from ``DATABASE_URL``'s role, migrated, dropped
at the end), so these tests never touch the database a running playground or pytest-django uses. The
servers are ``daphne`` subprocesses started exactly as a deployment starts them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from services_support import REPO, Server, pg_conninfo, postgres_url, redis_url, server_env, with_database


@pytest.fixture(scope="session")
def services() -> dict[str, str]:
    """``DATABASE_URL`` and ``REDIS_URL``, both answering; skips (or fails, see module doc) otherwise."""
    return {"DATABASE_URL": postgres_url(), "REDIS_URL": redis_url()}


@pytest.fixture(scope="session")
def database_url(services: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this session; dropped afterwards."""
    import psycopg
    from psycopg import sql

    admin = services["DATABASE_URL"]
    name = f"mmp_services_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(pg_conninfo(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(admin, name)
    env = server_env(url, services["REDIS_URL"], tmp_path_factory.mktemp("migrate"))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=300,
    )
    yield url
    with psycopg.connect(pg_conninfo(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def start_server(
    services: dict[str, str], database_url: str, tmp_path: Path
) -> Iterator[Callable[[str], Server]]:
    """Start named Daphne processes on the session's database and Redis; all stopped after the test."""
    started: list[Server] = []

    def start(name: str) -> Server:
        env = server_env(database_url, services["REDIS_URL"], tmp_path)
        server = Server(name, env, tmp_path / f"{name}.log")
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def two_servers(start_server: Callable[[str], Server]) -> tuple[Server, Server]:
    return start_server("a"), start_server("b")
