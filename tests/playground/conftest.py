"""Fixtures for the Django site: small named machines, Guaranteed pods, and an API client.

Personas in healthchecks' spirit: ``owner`` holds a scenario's edit token, ``visitor`` has none and
``stranger`` holds the token of another scenario.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from playground import services

GI = 1024**3
MI = 1024**2


@pytest.fixture(scope="session", autouse=True)
def end_stray_database_sessions(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Before the test database is dropped, end the PostgreSQL sessions other threads still hold.

    The pooled HTTP handler's threads and asgiref's shared thread keep their connections between
    requests (CONN_MAX_AGE), as in production; PostgreSQL refuses to drop a database with sessions open
    ("being accessed by other users"). Torn down before ``django_db_setup``, which it depends on.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def guaranteed_pod(
    name: str,
    memory: str = "1Gi",
    uid: str | None = None,
    containers: int = 1,
    hugepages: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Guaranteed pod (requests == limits) with ``containers`` containers of ``memory`` each."""
    resources = {"cpu": "1", "memory": memory, **(hugepages or {})}
    metadata: dict[str, Any] = {"name": name, "namespace": "default"}
    if uid is not None:
        metadata["uid"] = uid
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "containers": [
                {
                    "name": f"c{index}",
                    "image": "pause",
                    "resources": {"requests": resources, "limits": resources},
                }
                for index in range(containers)
            ]
        },
    }


def machine_doc(*node_memory: str, hugepages_1gi: str | None = None, policy: str = "none") -> dict[str, Any]:
    """A scenario document: one NUMA node per ``node_memory`` entry, 512Mi reserved on node 0."""
    nodes = []
    for index, memory in enumerate(node_memory):
        node: dict[str, Any] = {"id": index, "memory": memory}
        if hugepages_1gi is not None:
            node["hugepages-1Gi"] = hugepages_1gi
        nodes.append(node)
    return {
        "name": "test machine",
        "machine": {"numa_nodes": nodes},
        "kubelet": {
            "memory_manager_policy": "Static",
            "topology_manager_policy": policy,
            "reserved_memory": [{"numa_node": 0, "limits": {"memory": "512Mi"}}],
        },
    }


@pytest.fixture
def two_nodes() -> dict[str, Any]:
    """Two NUMA nodes of 4Gi; node 0 has 3.5Gi allocatable, node 1 4Gi; single-numa-node policy."""
    return machine_doc("4Gi", "4Gi", policy="single-numa-node")


@dataclass
class Owner:
    """A client that created a scenario and holds its edit token."""

    client: Client
    id: str
    token: str
    created: dict[str, Any]

    @property
    def auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}

    def submit(self, *pods: dict[str, Any], token: str | None = None) -> Any:
        body = pods[0] if len(pods) == 1 else list(pods)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token or self.token}"}
        return self.client.post(
            f"/api/v1/scenarios/{self.id}/pods", json.dumps(body), content_type="application/json", **headers
        )

    def submit_yaml(self, text: str) -> Any:
        return self.client.post(
            f"/api/v1/scenarios/{self.id}/pods", text, content_type="application/yaml", **self.auth
        )

    def delete(self, name: str) -> Any:
        return self.client.delete(f"/api/v1/scenarios/{self.id}/pods/{name}", **self.auth)

    def view(self) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/scenarios/{self.id}")
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def api_client() -> Client:
    return Client()


@pytest.fixture
def create(api_client: Client) -> Callable[[dict[str, Any]], Owner]:
    """POST a scenario document; returns the owner (id + token). Fails the test unless 201."""

    def make(document: dict[str, Any]) -> Owner:
        response = api_client.post("/api/v1/scenarios", json.dumps(document), content_type="application/json")
        assert response.status_code == 201, response.content
        body = response.json()
        return Owner(api_client, body["id"], body["edit_token"], body)

    return make


@pytest.fixture
def owner(db: None, create: Callable[[dict[str, Any]], Owner], two_nodes: dict[str, Any]) -> Owner:
    return create(two_nodes)


@pytest.fixture(autouse=True)
def cold_engine_cache() -> Iterator[None]:
    """Each test starts with no warm engine, so a cached one can never hide a storage bug."""
    services.engines.clear()
    yield
    services.engines.clear()
