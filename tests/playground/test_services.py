"""The service layer: storage, snapshots, the warm engine cache, broadcasts, export and restarts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from allocator import replay_document
from allocator.replay import comparable_outcome, first_difference
from playground import services
from playground.models import Event, Pod, Scenario, ScenarioSnapshot
from tests.playground.conftest import GI, guaranteed_pod, machine_doc

pytestmark = pytest.mark.django_db

RESTART_VECTORS = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples" / "restart"


def new_scenario(document: dict[str, Any] | None = None) -> tuple[str, str]:
    created = services.create_scenario(document or machine_doc("4Gi", "4Gi", policy="single-numa-node"))
    return created.scenario.public_id, created.edit_token


def after_commit(django_capture_on_commit_callbacks: Any, call: Any, *args: Any) -> Any:
    """Run a write and its after-commit work (the test transaction itself never commits)."""
    with django_capture_on_commit_callbacks(execute=True):
        return call(*args)


def test_create_keeps_the_document_and_the_normalised_views() -> None:
    document = machine_doc("4Gi", "2048Mi", hugepages_1gi="1Gi")
    public_id, token = new_scenario(document)
    scenario = Scenario.objects.get(public_id=public_id)
    assert scenario.machine == document["machine"]  # as submitted, for the export
    assert scenario.machine_view["numa_nodes"][1] == {"id": 1, "memory": 2 * GI, "hugepages-1Gi": GI}
    assert scenario.version == 0 and scenario.state == scenario.initial_state
    assert services.can_edit(scenario, token) and not services.can_edit(scenario, token[:-1])
    assert list(scenario.events.values_list("version", "op")) == [(0, "create")]


def test_a_conflicting_step_in_a_new_document_stores_nothing() -> None:
    document = machine_doc("4Gi")
    document["steps"] = [
        {"op": "admit", "pod": guaranteed_pod("a")},
        {"op": "admit", "pod": guaranteed_pod("a")},
    ]
    with pytest.raises(services.Conflict) as raised:
        services.create_scenario(document)
    assert raised.value.errors[0]["path"] == "steps[1].pod.metadata.name"
    assert (Scenario.objects.count(), Event.objects.count(), Pod.objects.count()) == (0, 0, 0)


def test_errors_carry_their_http_status() -> None:
    public_id, token = new_scenario()
    cases = [
        (services.Unauthorized, lambda: services.admit_pods(public_id, None, [guaranteed_pod("a")])),
        (services.Forbidden, lambda: services.admit_pods(public_id, "nope", [guaranteed_pod("a")])),
        (services.NotFound, lambda: services.remove_pod(public_id, token, "ghost")),
        (services.NotFound, lambda: services.state_at(public_id, 9)),
        (services.Invalid, lambda: services.admit_pods(public_id, token, [])),
        (services.Invalid, lambda: services.restart(public_id, token, "not an object")),  # type: ignore[arg-type]
    ]
    for error, call in cases:
        with pytest.raises(error) as raised:
            call()
        assert raised.value.as_dict()["detail"] and raised.value.status in {401, 403, 404, 422}


def test_a_past_state_replays_from_the_nearest_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "SNAPSHOT_EVERY", 3)  # kept when a write crosses a multiple of 3
    public_id, token = new_scenario()
    outcomes: list[dict[str, Any]] = []
    for index in range(4):
        outcomes += services.admit_pods(public_id, token, [guaranteed_pod(f"p{index}", "1Gi")]).outcomes
    outcomes += services.remove_pod(public_id, token, "p1").outcomes
    outcomes += services.admit_pods(
        public_id, token, [guaranteed_pod("p4", "3Gi"), guaranteed_pod("p5")]
    ).outcomes
    scenario = Scenario.objects.get(public_id=public_id)
    assert list(ScenarioSnapshot.objects.filter(scenario=scenario).values_list("version", flat=True)) == [
        3,
        7,
    ]
    for version, outcome in enumerate(outcomes, start=1):
        at = services.state_at(public_id, version)
        assert at["state"] == outcome["state_after"], version
        assert at["numa_groups"] == outcome["numa_groups_after"], version
    assert [pod["name"] for pod in services.state_at(public_id, 5)["pods"]] == ["p0", "p2", "p3"]


@pytest.mark.parametrize(
    ("running_pods", "every"), [(0, 32), (256, 32), (257, 64), (1000, 128), (3000, 512), (10**6, 1024)]
)
def test_the_snapshot_interval_grows_with_the_running_pods(running_pods: int, every: int) -> None:
    assert services.snapshot_interval(running_pods) == every


def test_a_big_scenario_keeps_snapshots_less_often_and_still_replays_every_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "SNAPSHOT_EVERY", 2)
    # The interval is 2, then 4 past 2 pods, 8 past 4 pods, 16 past 8 pods.
    monkeypatch.setattr(services, "SNAPSHOT_PODS_PER_VERSION", 1)
    public_id, token = new_scenario()
    outcomes: list[dict[str, Any]] = []
    for index in range(12):
        outcomes += services.admit_pods(public_id, token, [guaranteed_pod(f"p{index}", "100Mi")]).outcomes
    scenario = Scenario.objects.get(public_id=public_id)
    kept = list(ScenarioSnapshot.objects.filter(scenario=scenario).values_list("version", flat=True))
    assert kept == [2, 4, 8]  # at 9 pods and more the interval is 16: no snapshot at 10 or 12
    services.engines.clear()  # every state below is rebuilt from a snapshot and the steps after it
    for version, outcome in enumerate(outcomes, start=1):
        at = services.state_at(public_id, version)
        assert at["state"] == outcome["state_after"], version
        assert len(at["pods"]) == version


def test_a_warm_engine_gives_the_same_outcomes_as_a_cold_one(django_capture_on_commit_callbacks: Any) -> None:
    warm_id, warm_token = new_scenario()
    cold_id, cold_token = new_scenario()
    pods = [guaranteed_pod(f"p{index}", f"{256 * (index % 5 + 1)}Mi", uid=f"u{index}") for index in range(12)]
    for pod in pods:
        warm = after_commit(
            django_capture_on_commit_callbacks, services.admit_pods, warm_id, warm_token, [pod]
        )
        cold = services.admit_pods(cold_id, cold_token, [pod])  # no commit: its engine is never kept warm
        assert warm.outcomes == cold.outcomes
    assert services.engines.take(warm_id, 12) is not None  # the warm path was really taken


def test_a_refused_batch_leaves_nothing_behind_in_the_warm_engine(
    django_capture_on_commit_callbacks: Any,
) -> None:
    public_id, token = new_scenario()
    after_commit(
        django_capture_on_commit_callbacks, services.admit_pods, public_id, token, [guaranteed_pod("x")]
    )
    with pytest.raises(services.Conflict):
        services.admit_pods(public_id, token, [guaranteed_pod("a", "2Gi"), guaranteed_pod("x")])
    [outcome] = services.admit_pods(public_id, token, [guaranteed_pod("c", "1Gi")]).outcomes
    reserved = sum(node["memory"]["reserved"] for node in outcome["state_after"].values())
    assert reserved == 2 * GI  # x and c only: "a" was never admitted
    assert services.state_at(public_id)["version"] == 2


def test_it_broadcasts_only_after_commit(django_capture_on_commit_callbacks: Any) -> None:
    public_id, token = new_scenario()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(services.group_name(public_id), channel)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.admit_pods(public_id, token, [guaranteed_pod("a")])
    assert callbacks, "the broadcast waits for the commit"
    for callback in callbacks:
        callback()
    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "scenario.event" and message["version"] == 1
    # The websocket text, encoded once by the writer (playground/fanout.py).
    sent = json.loads(message["text"])
    assert sent["event"]["pod_name"] == "a" and sent["event"]["version"] == 1 and "delta" in sent


def test_a_write_of_several_versions_is_broadcast_as_one_group_message(
    django_capture_on_commit_callbacks: Any,
) -> None:
    public_id, token = new_scenario()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(services.group_name(public_id), channel)
    with django_capture_on_commit_callbacks(execute=True):
        services.admit_pods(public_id, token, [guaranteed_pod(name) for name in ("a", "b", "c")])
    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "scenario.events"
    assert [each["type"] for each in message["messages"]] == ["scenario.event"] * 3
    assert [each["version"] for each in message["messages"]] == [1, 2, 3]
    assert [json.loads(each["text"])["event"]["pod_name"] for each in message["messages"]] == ["a", "b", "c"]


def test_the_export_replays_identically_with_replay_check(tmp_path: Path, repo_root: Path) -> None:
    public_id, token = new_scenario()
    services.admit_pods(public_id, token, [guaranteed_pod("a", "1Gi"), guaranteed_pod("b", "3Gi")])
    services.admit_pods(public_id, token, [guaranteed_pod("too-big", "5Gi")])  # rejected, stored as Failed
    services.remove_pod(public_id, token, "a")
    services.admit_pods(public_id, token, [guaranteed_pod("c", "2Gi", containers=2)])
    exported = services.export_scenario(public_id)
    assert [event["outcome"] for event in services.events_after(public_id, 0)] == [
        step["expect"] for step in exported["steps"]
    ]
    assert replay_document(json.loads(json.dumps(exported)))["steps"] == [
        s["expect"] for s in exported["steps"]
    ]

    def check(document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "export.json"
        path.write_text(json.dumps(document))
        command = [sys.executable, "-m", "allocator", "replay", "--check", str(path)]
        return subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=120)

    assert check(exported).returncode == 0, check(exported).stdout
    # The check can fail: a tampered expectation is reported.
    exported["steps"][0]["expect"]["admitted"] = False
    assert check(exported).returncode != 0


# --- restarts -----------------------------------------------------------------------------------


def restart_blocker(doc: dict[str, Any]) -> str | None:
    """Why a restart vector cannot go through the service layer step by step, or None."""
    pods: dict[str, tuple[str, bool]] = {}  # name -> (uid, running)
    for index, step in enumerate(doc["steps"]):
        if step["op"] == "admit":
            metadata = step["pod"]["metadata"]
            if metadata["name"] in pods or any(uid == metadata["uid"] for uid, _ in pods.values()):
                return f"step {index} admits {metadata['name']!r} while it exists"
            pods[metadata["name"]] = (metadata["uid"], bool(step["expect"].get("admitted")))
        elif step["op"] == "remove":
            name = next((name for name, (uid, _) in pods.items() if uid == step["pod_uid"]), None)
            if name is None:
                return f"step {index} removes an unknown pod"
            del pods[name]
        elif "active_pods" in (step.get("changes") or {}):
            active = set(step["changes"]["active_pods"])
            pods = {name: (uid, run) for name, (uid, run) in pods.items() if uid in active or not run}
    return None


@pytest.mark.parametrize("path", sorted(RESTART_VECTORS.glob("*.json")), ids=lambda path: path.name)
def test_restart_vectors_through_the_service_layer(path: Path) -> None:
    doc = json.loads(path.read_text())
    if blocker := restart_blocker(doc):
        pytest.skip(blocker)
    public_id, token = new_scenario(
        {"name": doc["name"], "machine": doc["machine"], "kubelet": doc["kubelet"]}
    )
    names: dict[str, str] = {}
    for index, step in enumerate(doc["steps"]):
        if step["op"] == "admit":
            names[step["pod"]["metadata"]["uid"]] = step["pod"]["metadata"]["name"]
            applied = services.admit_pods(public_id, token, [step["pod"]])
        elif step["op"] == "remove":
            applied = services.remove_pod(public_id, token, names.pop(step["pod_uid"]))
        else:
            applied = services.restart(public_id, token, step.get("changes"))
        [outcome] = applied.outcomes
        difference = first_difference(step["expect"], comparable_outcome(step["expect"], outcome))
        assert difference is None, f"step {index} ({step['op']}): {difference.describe()}"
    # Whatever the restarts did, the stored pods are the engine's active pods plus the Failed ones.
    view = services.scenario_view(services.get_scenario(public_id))
    active = {
        pod["metadata"]["uid"]
        for pod in services.engine_at(services.get_scenario(public_id), len(doc["steps"])).active_pods()
    }
    assert {pod["uid"] for pod in view["pods"] if pod["status"] == "Running"} <= active


def test_a_malformed_restart_names_the_field() -> None:
    public_id, token = new_scenario()
    with pytest.raises(services.Invalid) as raised:
        services.restart(public_id, token, {"machine": {"numa_nodes": [{"id": 0, "memory": "lots"}]}})
    assert raised.value.errors[0]["path"] == "changes.machine.numa_nodes[0].memory"
    assert services.state_at(public_id)["version"] == 0


def test_a_kubelet_that_failed_to_start_takes_no_further_step(tmp_path: Path, repo_root: Path) -> None:
    """replay stops at a failed restart, so the scenario does too: its export still replays exactly."""
    public_id, token = new_scenario()
    services.admit_pods(public_id, token, [guaranteed_pod("a", "1Gi")])
    [outcome] = services.restart(public_id, token, {"topology_manager_policy": "bogus"}).outcomes
    assert outcome["started"] is False
    view = services.scenario_view(services.get_scenario(public_id))
    assert view["stopped"]["version"] == 2 and "failed to start" in view["stopped"]["reason"]
    for write in (
        lambda: services.admit_pods(public_id, token, [guaranteed_pod("b")]),
        lambda: services.remove_pod(public_id, token, "a"),
        lambda: services.restart(public_id, token),
    ):
        with pytest.raises(services.Conflict):
            write()
    assert services.state_at(public_id)["version"] == 2
    path = tmp_path / "stopped.json"
    path.write_text(json.dumps(services.export_scenario(public_id)))
    command = [sys.executable, "-m", "allocator", "replay", "--check", str(path)]
    checked = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout
    # An earlier version goes on in a fork; a fork at the stop is stopped too.
    earlier = services.fork_scenario(public_id, 1)
    assert earlier.scenario.stopped is None
    assert (
        services.admit_pods(earlier.scenario.public_id, earlier.edit_token, [guaranteed_pod("b")]).version
        == 2
    )
    assert services.fork_scenario(public_id).scenario.stopped == view["stopped"]


def test_a_restart_that_changes_the_machine_shows_the_new_one() -> None:
    public_id, token = new_scenario(machine_doc("4Gi", "4Gi"))
    bigger = {"numa_nodes": [{"id": 0, "memory": "8Gi"}, {"id": 1, "memory": "4Gi"}]}
    # Without its checkpoint the kubelet starts on the new machine (with it, the drift check refuses).
    changes = {"machine": bigger, "topology_manager_policy": "restricted", "delete_checkpoint": True}
    [outcome] = services.restart(public_id, token, changes).outcomes
    assert outcome["started"] is True
    view = services.scenario_view(services.get_scenario(public_id))
    assert view["machine"]["numa_nodes"][0] == {"id": 0, "memory": 8 * GI}
    assert view["kubelet"]["topology_manager_policy"] == "restricted"
    assert view["state"]["0"]["memory"]["total"] == 8 * GI
    # The document as submitted is what the export carries: the restart step replays the change.
    exported = services.export_scenario(public_id)
    assert exported["machine"] == machine_doc("4Gi", "4Gi")["machine"]
    assert exported["steps"][0]["changes"]["machine"] == bigger
    fork = services.scenario_view(services.fork_scenario(public_id).scenario)
    assert (fork["machine"], fork["kubelet"]) == (view["machine"], view["kubelet"])


def test_reading_a_scenario_costs_a_few_queries_however_many_pods(django_assert_max_num_queries: Any) -> None:
    public_id, token = new_scenario(machine_doc("64Gi"))
    services.admit_pods(public_id, token, [guaranteed_pod(f"p{index}", "256Mi") for index in range(40)])
    with django_assert_max_num_queries(4):
        view = services.scenario_view(services.get_scenario(public_id))
    assert len(view["pods"]) == 40 and all(pod["containers"]["c0"] for pod in view["pods"])


def test_an_admission_costs_a_few_queries_however_many_pods_run(
    django_assert_max_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    public_id, token = new_scenario(machine_doc("64Gi"))
    pods = [guaranteed_pod(f"p{index}", "256Mi") for index in range(60)]
    after_commit(django_capture_on_commit_callbacks, services.admit_pods, public_id, token, pods)
    # Warm engine: lock, conflict check, event, pod, scenario update (+ the test's savepoint pair).
    with django_assert_max_num_queries(7):
        after_commit(
            django_capture_on_commit_callbacks, services.admit_pods, public_id, token, [guaranteed_pod("x")]
        )
    # Cold engine (another process wrote last): the latest snapshot plus the events after it.
    services.engines.clear()
    with django_assert_max_num_queries(9):
        services.admit_pods(public_id, token, [guaranteed_pod("y")])
