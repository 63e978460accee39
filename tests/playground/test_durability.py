"""Restarting the server loses nothing that was acknowledged.

A real Daphne process on its own SQLite file is killed with SIGKILL (no shutdown hook runs) in the
middle of a burst of submissions, then started again: every submission that got a 201 is there with
its version, nothing is half-written, and writing goes on from the last version.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.playground.conftest import guaranteed_pod

pytestmark = pytest.mark.slow  # two Daphne start-ups and a burst: about ten seconds

REPO = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).with_name("daphne")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One Daphne process serving the playground from ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.env = {
            **os.environ,
            "PLAYGROUND_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "playground.settings",
        }
        self.env.pop("DATABASE_URL", None)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def migrate(self) -> None:
        command = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
        subprocess.run(command, cwd=REPO, env=self.env, check=True, timeout=120)

    def start(self) -> None:
        command = [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), "playground.asgi:application"]
        self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data")
    server.migrate()
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.kill()


def burst(server: Server, public_id: str, token: str, count: int, acknowledged: list[dict[str, Any]]) -> None:
    """Submit pods one after another until the server dies; record every 201."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        for index in range(count):
            try:
                response = client.post(
                    f"/api/v1/scenarios/{public_id}/pods", json=guaranteed_pod(f"p{index}", "64Mi")
                )
            except httpx.HTTPError:
                return
            if response.status_code == 201:
                acknowledged.append({"name": f"p{index}", **response.json()})


def test_a_killed_server_loses_nothing_it_acknowledged(server: Server) -> None:
    document = {
        "name": "durability",
        "machine": {"numa_nodes": [{"id": 0, "memory": "64Gi"}]},
        "kubelet": {"reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}]},
    }
    created = httpx.post(f"{server.url}/api/v1/scenarios", json=document, timeout=10).json()
    public_id, token = created["id"], created["edit_token"]
    acknowledged: list[dict[str, Any]] = []
    writer = threading.Thread(target=burst, args=(server, public_id, token, 400, acknowledged))
    writer.start()
    while len(acknowledged) < 20 and writer.is_alive():
        time.sleep(0.01)
    server.kill()  # mid-burst, no graceful shutdown
    writer.join(timeout=30)
    assert len(acknowledged) >= 20

    server.start()
    view = httpx.get(f"{server.url}/api/v1/scenarios/{public_id}", timeout=10).json()
    stored = {pod["name"]: pod for pod in view["pods"]}
    for ack in acknowledged:
        assert ack["name"] in stored, ack
        assert stored[ack["name"]]["admitted_version"] == ack["version"]
    # Nothing half-written: the log, the pods and the cached state agree with each other.
    events = httpx.get(f"{server.url}/api/v1/scenarios/{public_id}/events", timeout=10).json()["events"]
    assert [event["version"] for event in events] == list(range(view["version"] + 1))
    assert len(view["pods"]) == view["version"]
    assert view["state"] == events[-1]["outcome"]["state_after"]
    # Writing goes on from the last version.
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(
        f"{server.url}/api/v1/scenarios/{public_id}/pods",
        json=guaranteed_pod("after", "64Mi"),
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 201 and response.json()["version"] == view["version"] + 1
