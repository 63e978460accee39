"""Helpers for the services tests: reachability checks, Daphne processes, documents and checks."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

REPO = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).with_name("daphne")
REQUIRE = os.environ.get("PLAYGROUND_REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}
GI = 1024**3

def unavailable(reason: str) -> None:
    """Skip, or fail when the run promised the services would be there."""
    if REQUIRE:
        pytest.fail(f"PLAYGROUND_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason} (start them with scripts/services.sh, or run scripts/test.sh)")


def postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        unavailable("DATABASE_URL does not name a PostgreSQL database")
    try:
        import psycopg

        with psycopg.connect(pg_conninfo(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        unavailable(f"PostgreSQL at DATABASE_URL is not reachable: {exc}")
    return url


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "").strip()
    if not url:
        unavailable("REDIS_URL is not set")
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        client.close()
    except Exception as exc:
        unavailable(f"Redis at REDIS_URL is not reachable: {exc}")
    return url


def pg_conninfo(url: str) -> str:
    """psycopg wants postgresql:// (the playground also accepts postgres://)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


SECRET_KEY = secrets.token_urlsafe(48)  # one key for all processes, as a deployment shares one


def server_env(database: str, redis: str, data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "playground.settings",
        "DATABASE_URL": database,
        "REDIS_URL": redis,
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "SECRET_KEY": SECRET_KEY,
        "PLAYGROUND_LOG_LEVEL": "WARNING",
    }
    env.pop("PLAYGROUND_REQUIRE_SERVICES", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One ``daphne`` process serving the playground on its own port, as in deploy/Procfile."""

    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        command = [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), "playground.asgi:application"]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, as when the machine loses the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def viewer(self, public_id: str, version: int | None = None) -> ClientConnection:
        """A websocket viewer of a scenario, sending the Origin a browser on this server would send."""
        query = f"?version={version}" if version is not None else ""
        return connect(f"{self.ws_url}/ws/scenarios/{public_id}/{query}", origin=self.url, open_timeout=10)


# --- documents and checks -----------------------------------------------------------------------


def scenario_fitting(count: int) -> dict[str, Any]:
    """One NUMA node whose allocatable memory holds exactly ``count`` Guaranteed pods of 1Gi."""
    return {
        "name": f"fits exactly {count}",
        "machine": {"numa_nodes": [{"id": 0, "memory": f"{count + 1}Gi"}]},
        "kubelet": {
            "topology_manager_policy": "none",
            "reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}],
        },
    }


def guaranteed_pod(name: str, memory: str = "1Gi") -> dict[str, Any]:
    resources = {"cpu": "1", "memory": memory}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "containers": [
                {"name": "app", "image": "pause", "resources": {"requests": resources, "limits": resources}}
            ]
        },
    }


def create_scenario(server: Server, document: dict[str, Any]) -> tuple[str, str]:
    response = httpx.post(f"{server.url}/api/v1/scenarios", json=document, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["edit_token"]


def receive(viewer: ClientConnection, timeout: float = 15) -> dict[str, Any]:
    return json.loads(viewer.recv(timeout=timeout))


def assert_consistent(server: Server, public_id: str) -> dict[str, Any]:
    """Nothing half-written: log, pods and state agree, and the export replays to the same outcomes.

    Returns the scenario view.
    """
    from allocator import replay_document

    view = httpx.get(f"{server.url}/api/v1/scenarios/{public_id}", timeout=30).json()
    events = httpx.get(f"{server.url}/api/v1/scenarios/{public_id}/events?limit=5000", timeout=30).json()
    versions = [event["version"] for event in events["events"]]
    assert versions == list(range(view["version"] + 1)), "the event log has a gap or a repeat"
    admits = {event["pod_name"] for event in events["events"] if event["op"] == "admit"}
    removes = sum(1 for event in events["events"] if event["op"] == "remove")
    assert len(view["pods"]) == len(admits) - removes
    assert {pod["name"] for pod in view["pods"]} <= admits
    # The engine replaying the stored log gives every stored outcome and the stored state.
    export = httpx.get(f"{server.url}/api/v1/scenarios/{public_id}/export", timeout=30).json()
    replayed = replay_document(export)
    assert "config_error" not in replayed
    assert [step for step in replayed["steps"]] == [step["expect"] for step in export["steps"]]
    if export["steps"]:
        last = replayed["steps"][-1]
        assert view["state"] == last.get("state_after", view["state"])
    return view


def reserved_bytes(state: dict[str, Any]) -> int:
    return sum(node["memory"]["reserved"] for node in state.values())
