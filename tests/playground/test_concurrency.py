"""Writes to one scenario are serialised: concurrent submissions never share memory.

Real threads, each with its own database connection, submit through the API at once. SQLite runs
every transaction as BEGIN IMMEDIATE, PostgreSQL locks the scenario row; either way the versions
come out 1..N with no gap or repeat, and exactly as many pods fit as the memory allows.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from allocator.errors import UNEXPECTED_ADMISSION_ERROR
from playground.models import Event, Pod
from tests.playground.conftest import GI, guaranteed_pod

WRITERS = 50
FITS = 25


def scenario_fitting(count: int) -> dict[str, Any]:
    """One NUMA node whose allocatable memory holds exactly ``count`` pods of 1Gi."""
    return {
        "name": f"fits exactly {count}",
        "machine": {"numa_nodes": [{"id": 0, "memory": f"{count + 1}Gi"}]},
        "kubelet": {
            "topology_manager_policy": "none",
            "reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}],
        },
    }


def submit_all(public_id: str, token: str, count: int) -> list[Any]:
    """``count`` threads, released together, each POSTs one 1Gi pod; returns their responses."""
    return submit_pods(public_id, token, [guaranteed_pod(f"pod-{index}", "1Gi") for index in range(count)])


def submit_pods(public_id: str, token: str, pods: list[dict[str, Any]]) -> list[Any]:
    """One thread per pod, released together, each POSTs its pod; returns their responses in order."""
    barrier = threading.Barrier(len(pods))
    responses: list[Any] = [None] * len(pods)

    def writer(index: int) -> None:
        try:
            barrier.wait()
            responses[index] = Client().post(
                f"/api/v1/scenarios/{public_id}/pods",
                json.dumps(pods[index]),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(len(pods))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return responses


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_submissions_admit_exactly_what_fits() -> None:
    created = Client().post(
        "/api/v1/scenarios", json.dumps(scenario_fitting(FITS)), content_type="application/json"
    )
    assert created.status_code == 201
    public_id, token = created.json()["id"], created.json()["edit_token"]

    responses = submit_all(public_id, token, WRITERS)

    assert [response.status_code for response in responses] == [201] * WRITERS
    outcomes = [response.json()["outcomes"][0] for response in responses]
    admitted = [outcome for outcome in outcomes if outcome["admitted"]]
    rejected = [outcome for outcome in outcomes if not outcome["admitted"]]
    assert len(admitted) == FITS and len(rejected) == WRITERS - FITS
    assert {outcome["reason"] for outcome in rejected} == {UNEXPECTED_ADMISSION_ERROR}
    # Every acknowledged version is distinct, and together they are exactly 1..50.
    assert sorted(response.json()["version"] for response in responses) == list(range(1, WRITERS + 1))
    assert list(
        Event.objects.filter(scenario__public_id=public_id)
        .order_by("version")
        .values_list("version", flat=True)
    ) == list(range(WRITERS + 1))

    view = Client().get(f"/api/v1/scenarios/{public_id}").json()
    assert view["version"] == WRITERS
    memory = view["state"]["0"]["memory"]
    assert memory["reserved"] == FITS * GI and memory["free"] == 0
    # No double allocation: the admitted pods' blocks add up to exactly the reserved memory.
    running = [pod for pod in view["pods"] if pod["status"] == "Running"]
    assert len(running) == FITS
    assert sum(block["size"] for pod in running for block in pod["containers"]["c0"]) == FITS * GI
    assert Pod.objects.filter(scenario__public_id=public_id, status=Pod.FAILED).count() == WRITERS - FITS


def submit_named(public_id: str, token: str, names: list[str]) -> list[Any]:
    """One thread per name, released together, each POSTs one 256Mi pod of that name."""
    return submit_pods(public_id, token, [guaranteed_pod(name, "256Mi") for name in names])


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_refused_for_a_name_in_use_leave_the_others_whole() -> None:
    """Writers queued together share a transaction (group commit); a refused one stores nothing."""
    created = Client().post(
        "/api/v1/scenarios", json.dumps(scenario_fitting(100)), content_type="application/json"
    )
    public_id, token = created.json()["id"], created.json()["edit_token"]
    names = [f"pod-{index // 2}" for index in range(40)]  # every name twice
    responses = submit_named(public_id, token, names)

    statuses = [response.status_code for response in responses]
    assert sorted(statuses) == [201] * 20 + [409] * 20
    for name in set(names):
        assert sorted(s for s, n in zip(statuses, names, strict=True) if n == name) == [201, 409], name
    versions = sorted(response.json()["version"] for response in responses if response.status_code == 201)
    assert versions == list(range(1, 21))
    events = Event.objects.filter(scenario__public_id=public_id, version__gte=1).order_by("version")
    assert [event.version for event in events] == versions
    assert sorted(event.pod_name for event in events) == sorted(set(names))
    assert Pod.objects.filter(scenario__public_id=public_id, status=Pod.RUNNING).count() == 20
    view = Client().get(f"/api/v1/scenarios/{public_id}").json()
    assert view["state"]["0"]["memory"]["reserved"] == 20 * 256 * 1024**2
