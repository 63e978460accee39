"""Two Daphne processes on one PostgreSQL and one Redis serve the same scenarios.

A submission to one process reaches a websocket viewer connected to the other (through Redis), and
writes to one scenario stay serialised across processes (PostgreSQL row lock): 50 concurrent writers
split over both processes never share memory, every version is acknowledged once, and the viewers see
the versions in strictly increasing order.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from services_support import (
    GI,
    Server,
    assert_consistent,
    create_scenario,
    guaranteed_pod,
    receive,
    reserved_bytes,
    scenario_fitting,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

WRITERS = 50
FITS = 25


def test_both_processes_report_postgres_and_redis(two_servers: tuple[Server, Server]) -> None:
    for server in two_servers:
        health = httpx.get(f"{server.url}/api/v1/health", timeout=10).json()
        assert health["database"] == "postgresql"
        assert health["channel_layer"] == "RedisChannelLayer"


def test_a_submission_to_one_process_reaches_a_viewer_of_the_other(
    two_servers: tuple[Server, Server],
) -> None:
    a, b = two_servers
    public_id, token = create_scenario(a, scenario_fitting(4))
    # The scenario written through A is readable through B: one database.
    assert httpx.get(f"{b.url}/api/v1/scenarios/{public_id}", timeout=10).status_code == 200

    with b.viewer(public_id) as viewer:
        snapshot = receive(viewer)
        assert snapshot["type"] == "snapshot" and snapshot["version"] == 0
        response = httpx.post(
            f"{a.url}/api/v1/scenarios/{public_id}/pods",
            json=guaranteed_pod("web"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        message = receive(viewer)

    assert message["type"] == "event" and message["version"] == 1
    assert message["event"]["op"] == "admit" and message["event"]["pod_name"] == "web"
    # The live event carries the light outcome and a delta of the view (docs/CONTRACTS.md section 4).
    outcome = response.json()["outcomes"][0]
    assert message["event"]["outcome"] == {key: v for key, v in outcome.items() if key != "checkpoint"}
    pods = {pod["name"]: pod for pod in message["delta"]["pods_added"]}
    assert pods["web"]["status"] == "Running"
    assert reserved_bytes(message["delta"]["state"]) == GI


def submit_concurrently(
    servers: tuple[Server, Server], public_id: str, token: str, count: int
) -> list[httpx.Response | BaseException]:
    """``count`` threads released together, alternating between the processes, one 1Gi pod each."""
    barrier = threading.Barrier(count)
    results: list[httpx.Response | BaseException] = [RuntimeError("not run")] * count

    def writer(index: int) -> None:
        server = servers[index % len(servers)]
        try:
            barrier.wait(timeout=60)
            results[index] = httpx.post(
                f"{server.url}/api/v1/scenarios/{public_id}/pods",
                json=guaranteed_pod(f"pod-{index}"),
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
        except BaseException as exc:  # reported by the assertions below, not lost in a thread
            results[index] = exc

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return results


def collect_events(viewer: Any, until_version: int, into: list[dict[str, Any]]) -> None:
    """Messages until ``until_version``; a batch frame (docs/CONTRACTS.md section 4) counts as the
    messages it holds, in order."""
    while not into or into[-1]["version"] < until_version:
        frame = receive(viewer, timeout=60)
        into.extend(frame["messages"] if frame["type"] == "batch" else [frame])


def test_fifty_writers_across_two_processes_lose_and_double_nothing(
    two_servers: tuple[Server, Server],
) -> None:
    a, b = two_servers
    public_id, token = create_scenario(a, scenario_fitting(FITS))
    seen: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
    viewers = {"a": a.viewer(public_id), "b": b.viewer(public_id)}
    try:
        for viewer in viewers.values():
            assert receive(viewer)["type"] == "snapshot"
        listeners = [
            threading.Thread(target=collect_events, args=(viewers[name], WRITERS, seen[name]), daemon=True)
            for name in viewers
        ]
        for listener in listeners:
            listener.start()

        results = submit_concurrently((a, b), public_id, token, WRITERS)

        for listener in listeners:
            listener.join(timeout=60)
    finally:
        for viewer in viewers.values():
            viewer.close()

    failures = [result for result in results if not isinstance(result, httpx.Response)]
    assert not failures, failures
    responses = [result for result in results if isinstance(result, httpx.Response)]
    assert [response.status_code for response in responses] == [201] * WRITERS
    outcomes = [response.json()["outcomes"][0] for response in responses]
    admitted = [outcome for outcome in outcomes if outcome["admitted"]]
    assert len(admitted) == FITS, "exactly the pods that fit are admitted, whichever process took them"
    assert all(outcome["reason"] for outcome in outcomes if not outcome["admitted"])
    # Every version acknowledged exactly once: no lost and no double write.
    assert sorted(response.json()["version"] for response in responses) == list(range(1, WRITERS + 1))

    # No double allocation: the memory reserved is exactly the admitted pods', and nothing is over-full.
    view = assert_consistent(b, public_id)
    assert view == assert_consistent(a, public_id) | {"share_url": view["share_url"]}
    assert reserved_bytes(view["state"]) == FITS * GI
    assert all(node["memory"]["free"] >= 0 for node in view["state"].values())
    running = [pod for pod in view["pods"] if pod["status"] == "Running"]
    assert len(running) == FITS
    blocks = [block for pod in running for blocks in pod["containers"].values() for block in blocks]
    assert sum(block["size"] for block in blocks) == FITS * GI

    # Each viewer, on either process, saw every version once and in strictly increasing order.
    for name, messages in seen.items():
        assert all(message["type"] == "event" for message in messages), name
        assert [message["version"] for message in messages] == list(range(1, WRITERS + 1)), name
