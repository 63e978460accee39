"""The REST API under /api/v1: every endpoint, and every error it answers with."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client, override_settings

from playground.models import Event, Pod, Scenario
from tests.playground.conftest import GI, Owner, guaranteed_pod, machine_doc

pytestmark = pytest.mark.django_db

ADMIT_KEYS = {"admitted", "reason", "message", "containers", "state_after", "numa_groups_after", "checkpoint"}


def alias_bomb(levels: int = 7, fan_out: int = 10) -> bytes:
    """YAML whose aliases expand to fan_out**levels values while the text stays tiny."""
    lines = ["l0: &l0 [1]"]
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * fan_out)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines).encode()


ALIAS_BOMB = alias_bomb()


def post_json(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def error_paths(response: Any) -> list[str]:
    return [error["path"] for error in response.json()["errors"]]


def stored_counts() -> tuple[int, int, int]:
    return Scenario.objects.count(), Event.objects.count(), Pod.objects.count()


# --- POST /scenarios ----------------------------------------------------------------------------


def test_it_creates_a_scenario(api_client: Client, two_nodes: dict[str, Any]) -> None:
    response = post_json(api_client, "/api/v1/scenarios", two_nodes)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "edit_token", "version", "state", "share_url", "outcomes"}
    assert body["version"] == 0 and body["outcomes"] == []
    assert body["share_url"] == f"http://testserver/s/{body['id']}/"
    # 4Gi per node, 512Mi reserved on node 0.
    assert body["state"]["0"]["memory"]["allocatable"] == 4 * GI - 512 * 1024**2
    assert body["state"]["1"]["memory"]["free"] == 4 * GI


def test_it_stores_only_the_hash_of_the_edit_token(create: Any, two_nodes: dict[str, Any]) -> None:
    owner = create(two_nodes)
    scenario = Scenario.objects.get(public_id=owner.id)
    assert scenario.edit_token_hash == hashlib.sha256(owner.token.encode()).hexdigest()
    assert owner.token not in json.dumps(owner.view())


def test_ids_and_tokens_are_unguessable(create: Any, two_nodes: dict[str, Any]) -> None:
    first, second = create(two_nodes), create(two_nodes)
    assert first.id != second.id and first.token != second.token
    assert len(first.id) >= 16 and len(first.token) >= 40
    assert all(char.isalnum() or char in "-_" for char in first.id)


def test_it_applies_the_documents_steps(api_client: Client, two_nodes: dict[str, Any]) -> None:
    two_nodes["steps"] = [
        {"op": "admit", "pod": guaranteed_pod("a", uid="uid-a")},
        {"op": "admit", "pod": guaranteed_pod("b", "2Gi", uid="uid-b")},
        {"op": "remove", "pod_uid": "uid-a"},
    ]
    body = post_json(api_client, "/api/v1/scenarios", two_nodes).json()
    assert body["version"] == 3
    assert [outcome.get("admitted", outcome.get("removed")) for outcome in body["outcomes"]] == [
        True,
        True,
        True,
    ]
    pods = api_client.get(f"/api/v1/scenarios/{body['id']}").json()["pods"]
    assert [pod["name"] for pod in pods] == ["b"]


def test_it_accepts_a_yaml_scenario(api_client: Client) -> None:
    text = """
name: from yaml
machine:
  numa_nodes:
    - {id: 0, memory: 8Gi, hugepages-1Gi: 2Gi}
kubelet:
  reserved_memory:
    - numa_node: 0
      limits: {memory: 1Gi}
"""
    response = api_client.post("/api/v1/scenarios", text, content_type="application/yaml")
    assert response.status_code == 201, response.content
    view = api_client.get(f"/api/v1/scenarios/{response.json()['id']}").json()
    assert view["name"] == "from yaml"
    assert view["machine"]["numa_nodes"] == [{"id": 0, "memory": 8 * GI, "hugepages-1Gi": 2 * GI}]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        pytest.param(
            lambda d: d["machine"]["numa_nodes"][1].update(memory="4Gx"),
            "machine.numa_nodes[1].memory",
            id="a quantity that does not parse",
        ),
        pytest.param(lambda d: d["machine"].pop("numa_nodes"), "machine.numa_nodes", id="no NUMA nodes"),
        pytest.param(lambda d: d.pop("machine"), "machine", id="no machine"),
    ],
)
def test_it_refuses_a_malformed_document(
    api_client: Client, two_nodes: dict[str, Any], mutate: Any, path: str
) -> None:
    mutate(two_nodes)
    response = post_json(api_client, "/api/v1/scenarios", two_nodes)
    assert response.status_code == 422
    assert path in error_paths(response)
    assert response.json()["detail"]
    assert stored_counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        pytest.param(
            lambda d: d["kubelet"].update(topology_manager_policy="strict"),
            "strict",
            id="an unknown topology manager policy",
        ),
        pytest.param(
            lambda d: d["kubelet"]["reserved_memory"].append({"numa_node": 7, "limits": {"memory": "1Gi"}}),
            "7",
            id="reserved memory on a missing NUMA node",
        ),
    ],
)
def test_it_refuses_a_configuration_the_kubelet_would_not_start_with(
    api_client: Client, two_nodes: dict[str, Any], mutate: Any, words: str
) -> None:
    mutate(two_nodes)
    response = post_json(api_client, "/api/v1/scenarios", two_nodes)
    assert response.status_code == 422
    body = response.json()
    assert words in body["detail"]
    assert body["config_error"]["kubelet_error"] in body["detail"]
    assert body["errors"][0]["path"].startswith("kubelet")
    assert stored_counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param(b"{not json", "application/json", 422, id="not JSON"),
        pytest.param(b"[1, 2]", "application/json", 422, id="not an object"),
        pytest.param(b"", "application/json", 422, id="empty"),
        pytest.param(b'{"machine": NaN}', "application/json", 422, id="NaN"),
        pytest.param(
            b"machine: !!python/object/apply:os.system ['true']",
            "application/yaml",
            422,
            id="a YAML tag that builds a Python object",
        ),
        pytest.param(b"[" * 5000 + b"]" * 5000, "application/json", 422, id="nested too deeply"),
        pytest.param(
            ALIAS_BOMB,
            "application/yaml",
            413,
            id="a YAML alias bomb",
        ),
        pytest.param(b"<xml/>", "application/xml", 415, id="an unsupported content type"),
    ],
)
def test_it_refuses_a_body_it_cannot_read(
    api_client: Client, body: bytes, content_type: str, status: int
) -> None:
    response = api_client.post("/api/v1/scenarios", body, content_type=content_type)
    assert response.status_code == status
    assert response.json()["detail"]
    assert stored_counts() == (0, 0, 0)


@override_settings(PLAYGROUND_MAX_BODY_BYTES=2048, DATA_UPLOAD_MAX_MEMORY_SIZE=2048)
def test_it_refuses_an_oversized_body(api_client: Client, two_nodes: dict[str, Any]) -> None:
    two_nodes["padding"] = "x" * 4096
    response = post_json(api_client, "/api/v1/scenarios", two_nodes)
    assert response.status_code == 413
    assert "2048" in response.json()["detail"]
    assert stored_counts() == (0, 0, 0)


# --- GET /scenarios/{id} ------------------------------------------------------------------------


def test_it_shows_a_scenario(owner: Owner) -> None:
    assert owner.submit(guaranteed_pod("web", "1Gi")).status_code == 201
    view = owner.view()
    assert view["id"] == owner.id and view["version"] == 1 and view["forked_from"] is None
    assert view["machine"]["numa_nodes"][0] == {"id": 0, "memory": 4 * GI}
    assert view["kubelet"]["topology_manager_policy"] == "single-numa-node"
    assert view["kubelet"]["reserved_memory"] == [{"numa_node": 0, "limits": {"memory": 512 * 1024**2}}]
    assert view["initial_state"]["0"]["memory"]["reserved"] == 0
    [pod] = view["pods"]
    assert pod["name"] == "web" and pod["status"] == "Running" and pod["admitted_version"] == 1
    assert pod["uid"] and pod["pod"]["metadata"]["uid"] == pod["uid"]  # generated, then stored
    [block] = pod["containers"]["c0"]
    assert block["type"] == "memory" and block["size"] == GI and len(block["numa_affinity"]) == 1
    node = str(block["numa_affinity"][0])
    assert view["state"][node]["memory"]["reserved"] == GI


@pytest.mark.parametrize(
    ("extra", "reserved"),
    [
        ({}, "100Mi"),  # no eviction_hard: the kubelet's default 100Mi threshold counts
        ({"eviction_hard": {"memory.available": "200Mi"}}, "200Mi"),
    ],
)
def test_the_views_kubelet_lints_as_the_document_it_came_from(
    api_client: Client, extra: dict[str, Any], reserved: str
) -> None:
    """Unset eviction_hard is the kubelet's default threshold, and the linter reads an explicit {} as none:
    the view leaves an unset one out, so linting the view gives the verdict of the original document."""
    document = {
        "machine": {"numa_nodes": [{"id": 0, "memory": "4Gi"}, {"id": 1, "memory": "4Gi"}]},
        "kubelet": {
            "memory_manager_policy": "Static",
            "reserved_memory": [{"numa_node": 0, "limits": {"memory": reserved}}],
            **extra,
        },
    }
    created = post_json(api_client, "/api/v1/scenarios", document)
    assert created.status_code == 201, created.content
    view = api_client.get(f"/api/v1/scenarios/{created.json()['id']}").json()
    assert ("eviction_hard" in view["kubelet"]) == ("eviction_hard" in extra)
    linted = [
        post_json(api_client, "/api/v1/lint", {"machine": doc["machine"], "kubelet": doc["kubelet"]}).json()
        for doc in (document, view)
    ]
    assert linted[0]["outcome"] == "ok" and linted[1]["outcome"] == "ok", linted


def test_an_unknown_scenario_is_404(api_client: Client) -> None:
    for url in (
        "/api/v1/scenarios/nope",
        "/api/v1/scenarios/nope/events",
        "/api/v1/scenarios/nope/state",
        "/api/v1/scenarios/nope/export",
    ):
        response = api_client.get(url)
        assert response.status_code == 404, url
        assert "nope" in response.json()["detail"]


# --- POST /scenarios/{id}/pods ------------------------------------------------------------------


def test_it_admits_a_pod(owner: Owner) -> None:
    response = owner.submit(guaranteed_pod("web", "1Gi", uid="uid-web"))
    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1
    [outcome] = body["outcomes"]
    assert set(outcome) >= ADMIT_KEYS
    assert outcome["admitted"] is True and outcome["reason"] == ""
    assert "uid-web" in outcome["checkpoint"]["entries"]


def test_it_stores_a_rejected_pod_as_failed_with_the_kubelets_words(owner: Owner) -> None:
    # single-numa-node: 6Gi fits on no single node of 4Gi.
    [outcome] = owner.submit(guaranteed_pod("big", "6Gi")).json()["outcomes"]
    assert outcome["admitted"] is False and outcome["reason"]
    [pod] = owner.view()["pods"]
    assert (pod["status"], pod["reason"], pod["message"]) == ("Failed", outcome["reason"], outcome["message"])


def test_it_admits_several_yaml_documents_in_order(owner: Owner) -> None:
    text = "\n---\n".join(
        json.dumps(guaranteed_pod(name, "1Gi")) for name in ("one", "two", "three")
    )  # JSON is YAML
    response = owner.submit_yaml(text + "\n---\n")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 3 and len(body["outcomes"]) == 3
    assert [pod["name"] for pod in owner.view()["pods"]] == ["one", "two", "three"]


def test_it_admits_a_yaml_pod(owner: Owner) -> None:
    text = """
apiVersion: v1
kind: Pod
metadata: {name: yaml-pod}
spec:
  containers:
    - name: app
      resources:
        requests: {cpu: "1", memory: 512Mi}
        limits: {cpu: "1", memory: 512Mi}
"""
    response = owner.submit_yaml(text)
    assert response.status_code == 201, response.content
    assert response.json()["outcomes"][0]["admitted"] is True


def test_it_admits_the_items_of_a_v1_list(owner: Owner) -> None:
    body = {"apiVersion": "v1", "kind": "List", "items": [guaranteed_pod("l1"), guaranteed_pod("l2")]}
    response = post_json(owner.client, f"/api/v1/scenarios/{owner.id}/pods", body, **owner.auth)
    assert response.status_code == 201 and response.json()["version"] == 2
    assert [pod["name"] for pod in owner.view()["pods"]] == ["l1", "l2"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param(b"", "application/yaml", 422, id="an empty YAML body"),
        pytest.param(b"---\n---\n", "application/yaml", 422, id="only empty YAML documents"),
        pytest.param(b"name: x", "text/plain", 415, id="plain text"),
        pytest.param(b"[]", "application/json", 422, id="an empty list"),
    ],
)
def test_a_submission_without_pods_is_refused(
    owner: Owner, body: bytes, content_type: str, status: int
) -> None:
    response = owner.client.post(
        f"/api/v1/scenarios/{owner.id}/pods", body, content_type=content_type, **owner.auth
    )
    assert response.status_code == status and response.json()["detail"]
    assert owner.view()["version"] == 0


def test_a_name_in_use_is_409_and_changes_nothing(owner: Owner) -> None:
    owner.submit(guaranteed_pod("web"))
    before = owner.view()
    response = owner.submit(guaranteed_pod("web"))
    assert response.status_code == 409
    assert error_paths(response) == ["pod.metadata.name"]
    assert owner.view() == before


def test_a_name_repeated_within_one_submission_is_409_and_admits_none(owner: Owner) -> None:
    response = owner.submit(guaranteed_pod("x"), guaranteed_pod("y"), guaranteed_pod("x"))
    assert response.status_code == 409
    assert error_paths(response) == ["pods[2].metadata.name"]
    assert owner.view()["pods"] == [] and owner.view()["version"] == 0


def test_a_name_of_a_failed_pod_is_in_use_until_it_is_deleted(owner: Owner) -> None:
    owner.submit(guaranteed_pod("big", "6Gi"))
    assert owner.submit(guaranteed_pod("big", "1Gi")).status_code == 409
    assert owner.delete("big").status_code == 200
    assert owner.submit(guaranteed_pod("big", "1Gi")).json()["outcomes"][0]["admitted"] is True


@pytest.mark.parametrize(
    ("pod", "path"),
    [
        pytest.param(guaranteed_pod("bad", "1Gx"), "pod.spec.containers[0].resources", id="a bad quantity"),
        pytest.param({"metadata": {"name": "x"}}, "pod.spec", id="no spec"),
        pytest.param({**guaranteed_pod("x"), "metadata": {}}, "pod.metadata.name", id="no name"),
        pytest.param(
            {**guaranteed_pod("x"), "metadata": {"name": "a/b"}},
            "pod.metadata.name",
            id="a slash in the name",
        ),
        pytest.param(
            {**guaranteed_pod("x"), "metadata": {"name": "a\nb"}},
            "pod.metadata.name",
            id="a control character in the name",
        ),
        pytest.param("a pod", "pod", id="not an object"),
    ],
)
def test_a_malformed_pod_is_422_and_changes_nothing(owner: Owner, pod: Any, path: str) -> None:
    response = owner.submit(pod)
    assert response.status_code == 422
    assert any(error.startswith(path) for error in error_paths(response)), response.json()
    assert owner.view()["version"] == 0 and Event.objects.count() == 1


def test_writes_need_the_edit_token(owner: Owner, create: Any, two_nodes: dict[str, Any]) -> None:
    stranger = create(two_nodes)
    url = f"/api/v1/scenarios/{owner.id}/pods"
    assert post_json(owner.client, url, guaranteed_pod("a")).status_code == 401
    assert (
        post_json(owner.client, url, guaranteed_pod("a"), HTTP_AUTHORIZATION="Basic abc").status_code == 401
    )
    assert owner.submit(guaranteed_pod("a"), token=stranger.token).status_code == 403
    assert owner.submit(guaranteed_pod("a"), token=owner.token + "x").status_code == 403
    assert owner.client.delete(f"{url}/a").status_code == 401
    assert owner.view()["version"] == 0


def test_submitting_to_an_unknown_scenario_is_404(owner: Owner) -> None:
    response = post_json(owner.client, "/api/v1/scenarios/nope/pods", guaranteed_pod("a"), **owner.auth)
    assert response.status_code == 404


@override_settings(PLAYGROUND_MAX_PODS_PER_REQUEST=2)
def test_too_many_pods_at_once_is_413(owner: Owner) -> None:
    response = owner.submit(guaranteed_pod("a"), guaranteed_pod("b"), guaranteed_pod("c"))
    assert response.status_code == 413
    assert owner.view()["version"] == 0


@override_settings(PLAYGROUND_MAX_EVENTS=2)
def test_a_full_scenario_is_413(owner: Owner) -> None:
    assert owner.submit(guaranteed_pod("a", "256Mi"), guaranteed_pod("b", "256Mi")).status_code == 201
    assert owner.submit(guaranteed_pod("c", "256Mi")).status_code == 413
    assert owner.view()["version"] == 2


def test_any_printable_name_is_kept_as_text_and_deletable(owner: Owner) -> None:
    name = "<img src=x onerror=alert(1)> ü"
    assert owner.submit(guaranteed_pod(name)).status_code == 201
    assert [pod["name"] for pod in owner.view()["pods"]] == [name]
    response = owner.client.delete(f"/api/v1/scenarios/{owner.id}/pods/{quote(name)}", **owner.auth)
    assert response.status_code == 200 and owner.view()["pods"] == []


# --- DELETE /scenarios/{id}/pods/{name} ---------------------------------------------------------


def test_it_deletes_a_pod_and_frees_its_memory(owner: Owner) -> None:
    owner.submit(guaranteed_pod("web", "2Gi", uid="uid-web"))
    response = owner.delete("web")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2 and body["outcome"]["removed"] is True
    assert "uid-web" not in body["outcome"]["checkpoint"].get("entries", {})  # omitted when empty
    view = owner.view()
    assert view["pods"] == [] and view["state"] == view["initial_state"]


def test_deleting_an_unknown_pod_is_404(owner: Owner) -> None:
    response = owner.delete("ghost")
    assert response.status_code == 404
    assert owner.view()["version"] == 0


def test_deleting_needs_the_right_token(owner: Owner, create: Any, two_nodes: dict[str, Any]) -> None:
    owner.submit(guaranteed_pod("web"))
    stranger = create(two_nodes)
    url = f"/api/v1/scenarios/{owner.id}/pods/web"
    assert owner.client.delete(url, HTTP_AUTHORIZATION=f"Bearer {stranger.token}").status_code == 403
    assert [pod["name"] for pod in owner.view()["pods"]] == ["web"]


# --- GET /scenarios/{id}/events -----------------------------------------------------------------


def test_it_lists_events_after_a_version(owner: Owner) -> None:
    owner.submit(guaranteed_pod("a", uid="uid-a"), guaranteed_pod("b"))
    owner.delete("a")
    events = owner.client.get(f"/api/v1/scenarios/{owner.id}/events").json()["events"]
    assert [(e["version"], e["op"], e["pod_name"]) for e in events] == [
        (0, "create", None),
        (1, "admit", "a"),
        (2, "admit", "b"),
        (3, "remove", "a"),
    ]
    assert events[1]["pod"]["metadata"]["uid"] == "uid-a" and events[3]["pod_uid"] == "uid-a"
    assert events[1]["explanation"] is None or events[1]["explanation"]["pod"] == "a"
    later = owner.client.get(f"/api/v1/scenarios/{owner.id}/events?after=1").json()["events"]
    assert [e["version"] for e in later] == [2, 3]
    assert owner.client.get(f"/api/v1/scenarios/{owner.id}/events?after=abc").status_code == 422


# --- GET /scenarios/{id}/state ------------------------------------------------------------------


def test_it_shows_the_state_at_any_version(owner: Owner) -> None:
    first = owner.submit(guaranteed_pod("a", "1Gi")).json()["outcomes"][0]
    second = owner.submit(guaranteed_pod("b", "2Gi")).json()["outcomes"][0]
    url = f"/api/v1/scenarios/{owner.id}/state"
    at = {version: owner.client.get(f"{url}?version={version}").json() for version in (0, 1, 2)}
    assert at[0]["state"] == owner.view()["initial_state"] and at[0]["pods"] == []
    assert at[1]["state"] == first["state_after"] and [p["name"] for p in at[1]["pods"]] == ["a"]
    assert at[2]["state"] == second["state_after"] and [p["name"] for p in at[2]["pods"]] == ["a", "b"]
    assert at[1]["numa_groups"] == first["numa_groups_after"]
    assert owner.client.get(url).json() == at[2]
    assert owner.client.get(f"{url}?version=3").status_code == 404
    assert owner.client.get(f"{url}?version=x").status_code == 422


# --- POST /scenarios/{id}/fork ------------------------------------------------------------------


def test_it_forks_at_a_version(owner: Owner) -> None:
    owner.submit(guaranteed_pod("a", "1Gi"), guaranteed_pod("b", "2Gi"), guaranteed_pod("c", "1Gi"))
    response = post_json(
        owner.client, f"/api/v1/scenarios/{owner.id}/fork", {"version": 2, "name": "what if"}
    )
    assert response.status_code == 201
    fork = response.json()
    assert fork["id"] != owner.id and fork["edit_token"] != owner.token and fork["version"] == 2
    view = owner.client.get(f"/api/v1/scenarios/{fork['id']}").json()
    assert view["forked_from"] == {"id": owner.id, "version": 2} and view["name"] == "what if"
    assert [pod["name"] for pod in view["pods"]] == ["a", "b"]
    source_at_2 = owner.client.get(f"/api/v1/scenarios/{owner.id}/state?version=2").json()
    assert view["state"] == source_at_2["state"] and view["numa_groups"] == source_at_2["numa_groups"]
    # The fork's token edits the fork, not the source.
    assert owner.submit(guaranteed_pod("d"), token=fork["edit_token"]).status_code == 403


def test_a_fork_replays_identically(owner: Owner) -> None:
    owner.submit(guaranteed_pod("a", "1Gi"), guaranteed_pod("b", "3Gi"))
    fork = post_json(owner.client, f"/api/v1/scenarios/{owner.id}/fork", {}).json()
    fork_owner = Owner(owner.client, fork["id"], fork["edit_token"], fork)
    source_events = owner.client.get(f"/api/v1/scenarios/{owner.id}/events?after=0").json()["events"]
    fork_events = owner.client.get(f"/api/v1/scenarios/{fork['id']}/events?after=0").json()["events"]
    strip = [{k: v for k, v in e.items() if k != "created_at"} for e in source_events]
    assert [{k: v for k, v in e.items() if k != "created_at"} for e in fork_events] == strip
    # The same next submission gives the same outcome in both.
    nxt = guaranteed_pod("c", "2Gi", uid="uid-c")
    assert owner.submit(nxt).json() == fork_owner.submit(nxt).json()


def test_forking_beyond_the_latest_version_is_404(owner: Owner) -> None:
    assert post_json(owner.client, f"/api/v1/scenarios/{owner.id}/fork", {"version": 5}).status_code == 404
    response = post_json(owner.client, f"/api/v1/scenarios/{owner.id}/fork", {"version": -1})
    assert response.status_code == 422 and error_paths(response) == ["version"]
    assert post_json(owner.client, "/api/v1/scenarios/nope/fork", {}).status_code == 404


# --- GET /scenarios/{id}/export -----------------------------------------------------------------


def test_the_export_is_the_document_with_its_steps(owner: Owner) -> None:
    owner.submit(guaranteed_pod("a", "1Gi", uid="uid-a"))
    owner.delete("a")
    document = owner.client.get(f"/api/v1/scenarios/{owner.id}/export").json()
    assert document["machine"] == machine_doc("4Gi", "4Gi")["machine"]  # as submitted
    assert [step["op"] for step in document["steps"]] == ["admit", "remove"]
    assert document["steps"][1] == {
        "op": "remove",
        "pod_uid": "uid-a",
        "expect": document["steps"][1]["expect"],
    }
    bare = owner.client.get(f"/api/v1/scenarios/{owner.id}/export?expect=false").json()
    assert all("expect" not in step for step in bare["steps"])


# --- access, restart, health, docs --------------------------------------------------------------


def test_it_tells_whether_a_token_may_edit(owner: Owner) -> None:
    url = f"/api/v1/scenarios/{owner.id}/access"
    assert owner.client.get(url, **owner.auth).json() == {"can_edit": True}
    assert owner.client.get(url).json() == {"can_edit": False}
    assert owner.client.get(url, HTTP_AUTHORIZATION="Bearer wrong").json() == {"can_edit": False}


def test_it_restarts_the_kubelet(owner: Owner) -> None:
    pytest.importorskip("allocator.restart", reason="the engine's restart op has not landed yet")
    owner.submit(guaranteed_pod("a", "1Gi"))
    url = f"/api/v1/scenarios/{owner.id}/restart"
    assert post_json(owner.client, url, {}).status_code == 401
    response = post_json(owner.client, url, {}, **owner.auth)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 2 and body["outcome"]["started"] is True
    assert [pod["name"] for pod in owner.view()["pods"]] == ["a"]
    bad = post_json(owner.client, url, {"changes": "x"}, **owner.auth)
    assert bad.status_code == 422 and error_paths(bad) == ["changes"]


def test_health(api_client: Client) -> None:
    body = api_client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["database"] in {"sqlite", "postgresql"}


def test_openapi_documents_every_endpoint(api_client: Client) -> None:
    schema = api_client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path, method in [
        ("/api/v1/scenarios", "post"),
        ("/api/v1/scenarios/{public_id}", "get"),
        ("/api/v1/scenarios/{public_id}/pods", "post"),
        ("/api/v1/scenarios/{public_id}/pods/{name}", "delete"),
        ("/api/v1/scenarios/{public_id}/events", "get"),
        ("/api/v1/scenarios/{public_id}/state", "get"),
        ("/api/v1/scenarios/{public_id}/fork", "post"),
        ("/api/v1/scenarios/{public_id}/export", "get"),
    ]:
        assert method in paths[path], (path, method)
    assert "application/yaml" in paths["/api/v1/scenarios/{public_id}/pods"]["post"]["requestBody"]["content"]
    assert api_client.get("/api/v1/docs").status_code == 200


# --- the body check's fast path agrees with the full walk -------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


PLAIN = [
    # (document, whether it is plain JSON the full walk gives back unchanged)
    (guaranteed_pod("p"), True),
    ({"name": "é ü 漢字", "list": [1, 2.5, None, True, False, []], "empty": {}}, True),
    (nested(64), True),
    (nested(65), False),
    ({"a": "nul\x00"}, False),
    ({"nul\x00": 1}, False),
    ({"a": "\udc80"}, False),
    ({"a": float("inf")}, False),
    ({1: "int key"}, False),
    ({"a": __import__("datetime").date(2024, 1, 2)}, False),
    ({"a": {1, 2}}, False),
]


@pytest.mark.parametrize(("document", "plain"), PLAIN)
def test_the_fast_body_check_accepts_exactly_what_the_full_walk_keeps(document: Any, plain: bool) -> None:
    from playground import api

    assert api.plain_json([document]) is plain
    try:
        walked = api.json_value(document, "", 0, [api.MAX_NODES])
    except Exception:
        assert not plain
        return
    assert (walked == document and json.dumps(walked) == json.dumps(document, default=str)) or not plain
