"""Every example vector, submitted step by step through the REST API, gives the real kubelet's outcomes.

The API is the kubelet's API server side: a pod name is used by one pod at a time, and a pod is
deleted by name. Vectors that admit a name still in use (re-admitting a running pod, a kubelet-only
path) or remove a pod that never existed are for the engine alone and are skipped here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from allocator.replay import comparable_outcome, first_difference

VECTORS = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples" / "vectors"

pytestmark = pytest.mark.django_db


def api_blocker(doc: dict[str, Any]) -> str | None:
    """Why the API cannot replay this vector step by step, or None if it can."""
    names: dict[str, str] = {}  # pod name -> uid, for pods that exist (Running or Failed)
    for index, step in enumerate(doc["steps"]):
        if step["op"] == "admit":
            metadata = step["pod"]["metadata"]
            if metadata["name"] in names or metadata.get("uid") in names.values():
                return f"step {index} admits {metadata['name']!r} while a pod of that name or uid exists"
            names[metadata["name"]] = metadata.get("uid", "")
        elif step["op"] == "remove":
            name = next((name for name, uid in names.items() if uid == step["pod_uid"]), None)
            if name is None:
                return f"step {index} removes {step['pod_uid']!r}, which the API never saw"
            del names[name]
        else:
            return f"step {index} is a {step['op']!r} step"
    return None


def vector_files() -> list[Path]:
    return sorted(VECTORS.glob("*.json"))


def test_most_vectors_go_through_the_api() -> None:
    """The skip rule below must stay narrow: re-admissions and removals of unknown pods only."""
    docs = [json.loads(path.read_text()) for path in vector_files()]
    blockers = [blocker for doc in docs if (blocker := api_blocker(doc)) is not None]
    assert len(docs) >= 70
    assert all(" while a pod of that name" in b or "which the API never saw" in b for b in blockers), blockers
    assert len(blockers) <= len(docs) // 5


@pytest.mark.parametrize("path", vector_files(), ids=lambda path: path.name)
def test_vector_through_the_api(api_client: Client, path: Path) -> None:
    doc = json.loads(path.read_text())
    blocker = api_blocker(doc)
    if blocker:
        pytest.skip(blocker)
    document = {"name": doc["name"], "machine": doc["machine"], "kubelet": doc["kubelet"]}
    created = api_client.post("/api/v1/scenarios", json.dumps(document), content_type="application/json")
    assert created.status_code == 201, created.content
    public_id, auth = created.json()["id"], {"HTTP_AUTHORIZATION": f"Bearer {created.json()['edit_token']}"}
    view = api_client.get(f"/api/v1/scenarios/{public_id}").json()
    assert view["initial_state"] == doc["initial_state"]

    names: dict[str, str] = {}
    for index, step in enumerate(doc["steps"]):
        if step["op"] == "admit":
            metadata = step["pod"]["metadata"]
            names[metadata["uid"]] = metadata["name"]
            response = api_client.post(
                f"/api/v1/scenarios/{public_id}/pods",
                json.dumps(step["pod"]),
                content_type="application/json",
                **auth,
            )
            assert response.status_code == 201, response.content
            outcome = response.json()["outcomes"][0]
        else:
            response = api_client.delete(
                f"/api/v1/scenarios/{public_id}/pods/{names.pop(step['pod_uid'])}", **auth
            )
            assert response.status_code == 200, response.content
            outcome = response.json()["outcome"]
        assert response.json()["version"] == index + 1
        difference = first_difference(step["expect"], comparable_outcome(step["expect"], outcome))
        assert difference is None, f"step {index} ({step['op']}): {difference.describe()}"

    # The stored history exports to a document whose replay gives the same outcomes again.
    exported = api_client.get(f"/api/v1/scenarios/{public_id}/export").json()
    assert [step["expect"] for step in exported["steps"]] == [
        event["outcome"]
        for event in api_client.get(f"/api/v1/scenarios/{public_id}/events?after=0").json()["events"]
    ]
