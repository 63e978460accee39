"""A server process dies with SIGKILL in the middle of a burst of submissions (PostgreSQL + Redis).

Writers keep submitting through both processes; one process is killed without any chance to clean up
and started again. Every submission that was acknowledged (201) is stored with the version it was given,
nothing is half-written (the log, the pods, the state and a replay of the export agree), the other
process never stopped serving, and a websocket viewer of the killed process reconnects with the version
it holds and catches up: its snapshot has everything written while it was away, then live events go on.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from services_support import Server, assert_consistent, create_scenario, guaranteed_pod, receive
from websockets.exceptions import ConnectionClosed

pytestmark = [pytest.mark.services, pytest.mark.slow]

BIG_MACHINE = {
    "name": "fault injection",
    "machine": {"numa_nodes": [{"id": 0, "memory": "64Gi"}, {"id": 1, "memory": "64Gi"}]},
    "kubelet": {
        "topology_manager_policy": "single-numa-node",
        "reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}],
    },
}


class Burst(threading.Thread):
    """Submits small pods one after another through one process until stopped or the process dies."""

    def __init__(self, server: Server, public_id: str, token: str, prefix: str) -> None:
        super().__init__(daemon=True)
        self.server, self.public_id, self.token, self.prefix = server, public_id, token, prefix
        self.acknowledged: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=60) as client:
            for index in range(10_000):
                if self.stopping.is_set():
                    return
                name = f"{self.prefix}-{index}"
                try:
                    response = client.post(
                        f"/api/v1/scenarios/{self.public_id}/pods", json=guaranteed_pod(name, "16Mi")
                    )
                except httpx.HTTPError as exc:
                    self.error = exc  # the process is gone: whatever was in flight is unacknowledged
                    return
                assert response.status_code == 201, response.text
                self.acknowledged.append({"name": name, "version": response.json()["version"]})


class Watcher(threading.Thread):
    """Reads a websocket viewer until the connection drops; keeps every message."""

    def __init__(self, viewer: Any) -> None:
        super().__init__(daemon=True)
        self.viewer = viewer
        self.messages: list[dict[str, Any]] = []
        self.closed = threading.Event()

    def run(self) -> None:
        try:
            while True:
                frame = receive(self.viewer, timeout=120)
                # A batch frame (docs/CONTRACTS.md section 4) holds consecutive events, in order.
                self.messages.extend(frame["messages"] if frame["type"] == "batch" else [frame])
        except (ConnectionClosed, TimeoutError, OSError):
            self.closed.set()


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_killed_process_loses_nothing_acknowledged_and_its_viewers_catch_up(
    two_servers: tuple[Server, Server],
) -> None:
    a, b = two_servers
    public_id, token = create_scenario(b, BIG_MACHINE)
    viewer = a.viewer(public_id)
    assert receive(viewer)["version"] == 0
    watcher = Watcher(viewer)
    watcher.start()

    to_a, to_b = Burst(a, public_id, token, "a"), Burst(b, public_id, token, "b")
    to_a.start()
    to_b.start()
    wait_for(lambda: len(to_a.acknowledged) >= 15 and len(to_b.acknowledged) >= 5, 120, "the burst")
    a.kill()  # mid-burst: requests are in flight on A
    to_a.join(timeout=60)
    assert to_a.error is not None, "the writer on the killed process must have seen it die"
    # B goes on serving writes while A is down.
    acked_on_b_at_kill = len(to_b.acknowledged)
    wait_for(lambda: len(to_b.acknowledged) >= acked_on_b_at_kill + 10, 120, "writes through B")
    to_b.stopping.set()
    to_b.join(timeout=60)
    assert to_b.error is None, to_b.error
    assert watcher.closed.wait(timeout=30), "the viewer of the killed process must see its socket close"

    held = watcher.messages[-1]["version"] if watcher.messages else 0
    seen = [message["version"] for message in watcher.messages]
    assert seen == list(range(1, held + 1)), "before the kill, events arrived in order without gaps"

    a.start()
    acknowledged = to_a.acknowledged + to_b.acknowledged
    view = assert_consistent(a, public_id)
    stored = {pod["name"]: pod for pod in view["pods"]}
    for ack in acknowledged:
        assert ack["name"] in stored, f"acknowledged {ack} is missing"
        assert stored[ack["name"]]["admitted_version"] == ack["version"]
        assert stored[ack["name"]]["status"] == "Running"
    # At most the requests in flight at the kill were committed without an acknowledgement.
    assert len(acknowledged) <= view["version"] <= len(acknowledged) + 1

    # The viewer reconnects to the restarted process with the version it holds and catches up.
    with a.viewer(public_id, version=held) as again:
        snapshot = receive(again)
        assert snapshot["type"] == "snapshot" and snapshot["version"] == view["version"] > held
        assert {pod["name"] for pod in snapshot["scenario"]["pods"]} == set(stored)
        # ... and live events resume, whichever process takes the next write.
        for server, name in ((b, "after-b"), (a, "after-a")):
            response = httpx.post(
                f"{server.url}/api/v1/scenarios/{public_id}/pods",
                json=guaranteed_pod(name, "16Mi"),
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            assert response.status_code == 201, response.text
            message = receive(again, timeout=60)
            assert message["type"] == "event" and message["version"] == response.json()["version"]
            assert message["event"]["pod_name"] == name
    assert_consistent(b, public_id)
