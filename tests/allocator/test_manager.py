"""The MemoryManager facade: start-up checks, the admission loop of each scope, container start and
removal, stale state, panics, explanations, snapshots and determinism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from allocator import ConfigError, InputError, MemoryManager, parse_scenario

GI = 1 << 30
MI = 1 << 20
VECTORS = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples" / "vectors"


def scenario(
    nodes: int = 2,
    memory: int = 5 * GI,
    policy: str = "single-numa-node",
    scope: str = "container",
    **kubelet: Any,
) -> dict[str, Any]:
    return {
        "name": "t",
        "machine": {"numa_nodes": [{"id": i, "memory": memory + 512 * MI} for i in range(nodes)]},
        "kubelet": {
            "topology_manager_policy": policy,
            "topology_manager_scope": scope,
            "reserved_memory": [{"numa_node": i, "limits": {"memory": 512 * MI}} for i in range(nodes)],
            **kubelet,
        },
        "steps": [],
    }


def manager(**kwargs: Any) -> MemoryManager:
    return MemoryManager.from_scenario(parse_scenario(scenario(**kwargs)))


def pod(
    uid: str,
    *apps: tuple[str, str],
    init: tuple[tuple[str, str], ...] = (),
    qos: str = "Guaranteed",
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    def container(name: str, memory: str) -> dict[str, Any]:
        values = {"cpu": "1", "memory": memory, **(extra or {})}
        resources = {"requests": values, "limits": values} if qos == "Guaranteed" else {"requests": values}
        return {"name": name, "resources": resources}

    return {
        "metadata": {"name": uid, "uid": uid},
        "spec": {
            "containers": [container(n, m) for n, m in apps],
            "initContainers": [container(n, m) for n, m in init],
        },
    }


def admit(mm: MemoryManager, doc: dict[str, Any]) -> dict[str, Any]:
    return mm.apply({"op": "admit", "pod": doc}).result


# -- start-up -------------------------------------------------------------------------------------


def test_reserved_memory_on_a_missing_numa_node_refuses_to_start() -> None:
    doc = scenario()
    doc["kubelet"]["reserved_memory"].append({"numa_node": 2, "limits": {"memory": GI}})
    with pytest.raises(ConfigError) as info:
        MemoryManager.from_scenario(parse_scenario(doc))
    assert info.value.stage == "memory_manager"
    assert (
        info.value.error
        == "the reserved memory configuration references a NUMA node 2 that does not exist on this machine"
    )
    assert info.value.kubelet_error == f"failed to run Kubelet: {info.value.error}"


def test_static_without_reserved_memory_refuses_to_start() -> None:
    doc = scenario()
    doc["kubelet"]["reserved_memory"] = []
    with pytest.raises(ConfigError) as info:
        MemoryManager.from_scenario(parse_scenario(doc))
    assert info.value.error == "[memorymanager] you should specify the system reserved memory"


def test_reserved_memory_must_match_node_allocatable() -> None:
    doc = scenario(node_allocatable_reservation={"memory": 1636 * MI})
    with pytest.raises(ConfigError) as info:
        MemoryManager.from_scenario(parse_scenario(doc))
    assert info.value.error == (
        'the total amount "1Gi" of type "memory" is not equal to the value "1636Mi" '
        "determined by Node Allocatable feature"
    )


def test_unknown_memory_manager_policy() -> None:
    with pytest.raises(ConfigError) as info:
        manager(memory_manager_policy="Dynamic")
    assert info.value.error == 'unknown policy: "Dynamic"'


def test_topology_manager_errors_come_first() -> None:
    doc = scenario(nodes=9, policy="restricted", memory_manager_policy="Dynamic")
    with pytest.raises(ConfigError) as info:
        MemoryManager.from_scenario(parse_scenario(doc))
    assert info.value.stage == "topology_manager"


def test_none_memory_policy_pins_nothing() -> None:
    mm = manager(memory_manager_policy="None", reserved_memory=[])
    result = admit(mm, pod("a", ("c", "1Gi")))
    assert result["admitted"] and result["containers"] == {}
    assert mm.initial_state() == {} and mm.checkpoint() == {"policyName": "None", "machineState": {}}


# -- admission ----------------------------------------------------------------------------------


def test_container_scope_rejection_keeps_the_partial_allocation_until_the_next_sweep() -> None:
    mm = manager(nodes=3)
    # "huge" only fits nodes 1+2 together, which single-numa-node refuses.
    rejected = admit(mm, pod("big", ("small", "3Gi"), ("huge", "6Gi")))
    assert not rejected["admitted"]
    assert rejected["reason"] == "TopologyAffinityError"
    assert rejected["message"] == "Resources cannot be allocated with Topology locality"
    assert [c["container"] for c in rejected["container_hints"]] == ["small", "huge"]
    assert rejected["container_hints"][1]["merge_admits"] is False
    assert rejected["containers"] == {"small": [{"numa_affinity": [0], "type": "memory", "size": 3 * GI}]}
    assert rejected["state_after"] == rejected["state_after_admit"]
    assert "containers_after_start" not in rejected
    # The rejected pod is not active: the next admission's removeStaleState frees its blocks.
    nxt = admit(mm, pod("next", ("c", "1Gi")))
    assert "big" not in nxt["checkpoint"]["entries"]
    assert nxt["state_after"]["0"]["memory"]["reserved"] == GI


def test_memory_shortage_is_an_unexpected_admission_error_from_allocate() -> None:
    mm = manager(policy="restricted")
    assert admit(mm, pod("a", ("c", "4Gi")))["admitted"]
    assert admit(mm, pod("b", ("c", "4Gi")))["admitted"]
    result = admit(mm, pod("c", ("c", "4Gi")))
    assert result["hints"] == {}  # no mask fits: "no preference" for the topology manager
    assert result["reason"] == "UnexpectedAdmissionError"
    assert result["message"] == (
        "Allocate failed due to [memorymanager] failed to find NUMA nodes to extend the current "
        "topology hint, which is unexpected"
    )


def test_policy_none_allocates_with_the_default_hint_and_reports_no_hints() -> None:
    mm = manager(policy="none")
    result = admit(mm, pod("a", ("c", "3Gi")))
    assert result["hints"] is None and result["merged_hint"] is None
    assert "container_hints" not in result and "merge_admits" not in result
    assert result["containers"]["c"][0]["numa_affinity"] == [0]


def test_pod_scope_gives_one_merge_for_the_pod() -> None:
    mm = manager(policy="restricted", scope="pod")
    result = admit(mm, pod("a", ("c1", "3Gi"), ("c2", "3Gi")))
    assert result["merge_admits"] is True and "container_hints" not in result
    assert result["merged_hint"] == {"numa_affinity": [0, 1], "preferred": True}
    assert {b["numa_affinity"][0] for bs in result["containers"].values() for b in bs} == {0}


def test_init_containers_are_released_when_the_app_container_starts() -> None:
    mm = manager(policy="single-numa-node")
    result = admit(mm, pod("a", ("app", "1Gi"), init=(("init", "3Gi"),)))
    assert set(result["containers"]) == {"init", "app"}
    assert set(result["containers_after_start"]) == {"app"}
    assert result["state_after_admit"]["0"]["memory"]["reserved"] == 3 * GI
    assert result["state_after"]["0"]["memory"]["reserved"] == GI


def test_remove_frees_the_pod_and_unknown_pods_do_nothing() -> None:
    mm = manager()
    admit(mm, pod("a", ("c", "1Gi")))
    assert [p["metadata"]["uid"] for p in mm.active_pods()] == ["a"]
    assert mm.assignments() == {"a": {"c": [{"numa_affinity": [0], "type": "memory", "size": GI}]}}
    unknown = mm.apply({"op": "remove", "pod_uid": "nobody"}).result
    assert unknown["removed"] is False and unknown["state_after"]["0"]["memory"]["reserved"] == GI
    removed = mm.apply({"op": "remove", "pod_uid": "a"}).result
    assert set(removed) == {"removed", "state_after", "numa_groups_after", "checkpoint"}
    assert removed["removed"] is True and removed["state_after"] == mm.initial_state()
    assert mm.active_pods() == []


def test_non_guaranteed_pods_are_admitted_without_blocks() -> None:
    mm = manager()
    result = admit(mm, pod("a", ("c", "1Gi"), qos="Burstable"))
    assert result["admitted"] and result["hints"] is None and result["containers"] == {}


def test_a_hugepage_size_the_machine_does_not_list_is_a_panic_outcome() -> None:
    mm = manager()
    outcome = mm.apply({"op": "admit", "pod": pod("a", ("c", "1Gi"), extra={"hugepages-2Mi": "2Mi"})})
    assert outcome.result == {"panic": "runtime error: invalid memory address or nil pointer dereference"}


@pytest.mark.parametrize(
    "step", [{"op": "explode"}, {"op": "admit", "pod": []}, {"op": "remove", "pod_uid": 3}]
)
def test_malformed_steps_are_input_errors(step: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        manager().apply(step)


# -- explanation ---------------------------------------------------------------------------------


def test_explanation_record_shape_and_stage() -> None:
    mm = manager()
    ok = mm.apply({"op": "admit", "pod": pod("a", ("c", "1Gi"))}).explanation
    assert ok is not None
    assert set(ok) == {
        "pod",
        "pod_uid",
        "qos_class",
        "policy",
        "scope",
        "memory_policy",
        "requests",
        "evaluations",
        "admitted",
        "reason",
        "message",
        "stage",
        "summary",
    }
    assert ok["requests"] == {"c": {"memory": GI}} and ok["stage"] is None and ok["admitted"]
    evaluation = ok["evaluations"][0]
    assert evaluation["container"] == "c" and evaluation["merge_admits"] is True
    assert evaluation["allocation"]["ok"] and evaluation["allocation"]["blocks"][0]["numa_affinity"] == [0]
    assert "NUMA node 0" in ok["summary"]

    rejected = manager().apply({"op": "admit", "pod": pod("b", ("c", "6Gi"))}).explanation
    assert rejected is not None and rejected["stage"] == "topology_manager"
    assert "single-numa-node" in rejected["summary"]


def test_explanation_says_why_a_pod_that_fits_in_total_is_rejected() -> None:
    mm = manager(policy="best-effort")
    admit(mm, pod("a", ("c", "3Gi")))
    admit(mm, pod("b", ("c", "3Gi")))
    # 4Gi free in total (2Gi per node) but both nodes hold single-NUMA allocations.
    outcome = mm.apply({"op": "admit", "pod": pod("c", ("c", "3Gi"))})
    assert outcome.result["reason"] == "UnexpectedAdmissionError"
    explanation = outcome.explanation
    assert explanation is not None and explanation["stage"] == "memory_manager"
    assert "4Gi of free memory in total" in explanation["summary"]


# -- determinism and snapshots -------------------------------------------------------------------

SNAPSHOT_VECTORS = [
    "mirror-tm-scope-pod-vs-container",
    "mirror-init-reuse-7-4_5-2",
    "mirror-mm-stale-state",
    "gen-005",
    "gen-011",
    "gen-014",
    "mirror-alloc-already-in-state",
]


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k != "expect"} for s in doc["steps"]]


@pytest.mark.parametrize("name", SNAPSHOT_VECTORS)
def test_snapshot_round_trip_mid_replay_changes_nothing(name: str) -> None:
    doc = json.loads((VECTORS / f"{name}.json").read_text())
    steps = _steps(doc)
    straight = MemoryManager.from_scenario(parse_scenario(doc))
    expected = [straight.apply(s).result for s in steps]
    for cut in range(len(steps) + 1):
        mm = MemoryManager.from_scenario(parse_scenario(doc))
        got = [mm.apply(s).result for s in steps[:cut]]
        snapshot = json.loads(json.dumps(mm.to_snapshot()))
        restored = MemoryManager.from_snapshot(snapshot)
        assert restored.to_snapshot() == snapshot
        got += [restored.apply(s).result for s in steps[cut:]]
        assert got == expected, f"cut at step {cut}"
        assert restored.metrics() == straight.metrics()


def test_replay_is_deterministic() -> None:
    doc = json.loads((VECTORS / "gen-012.json").read_text())
    runs = []
    for _ in range(2):
        mm = MemoryManager.from_scenario(parse_scenario(doc))
        runs.append([mm.apply(s).result for s in _steps(doc)] + [mm.to_snapshot()])
    assert runs[0] == runs[1]


def test_numa_groups_and_checkpoint_file() -> None:
    mm = manager(policy="best-effort")
    admit(mm, pod("a", ("c", "6Gi")))
    assert mm.numa_groups() == {
        "0": {"cells": [0, 1], "number_of_assignments": 1},
        "1": {"cells": [0, 1], "number_of_assignments": 1},
    }
    text = mm.checkpoint_file()
    assert text.startswith('{"policyName":"Static","machineState":{"0":')
    assert '"checksum":' in text


def test_explanation_names_the_short_resource() -> None:
    doc = scenario(policy="restricted")
    for node in doc["machine"]["numa_nodes"]:
        node["hugepages-1Gi"] = GI
        node["memory"] += GI
    mm = MemoryManager.from_scenario(parse_scenario(doc))
    outcome = mm.apply({"op": "admit", "pod": pod("a", ("c", "1Gi"), extra={"hugepages-1Gi": "3Gi"})})
    assert outcome.result["reason"] == "UnexpectedAdmissionError"
    assert outcome.explanation is not None
    assert (
        "It asks for 3Gi of hugepages-1Gi, and the whole machine has only 2Gi of it free."
        in (outcome.explanation["summary"])
    )


def test_public_views_are_copies_the_caller_may_modify() -> None:
    mm = manager()
    admit(mm, pod("a", ("c", "1Gi")))
    view = mm.state()
    view["0"]["memory"]["free"] = -1
    mm.numa_groups()["0"]["cells"].append(99)
    assert mm.state()["0"]["memory"]["free"] == 4 * GI
    assert mm.numa_groups()["0"]["cells"] == [0]
