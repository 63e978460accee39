"""Property tests: random machines and random admit/remove histories keep the kubelet's invariants.

Every invariant below holds on every recorded step of the real kubelet's output in
``tests/data/kubelet-examples`` (checked when this file was written); here they are asked of
histories nobody recorded:

* per NUMA node and resource: ``free + reserved == allocatable``, nothing negative, and
  ``total``/``system_reserved``/``allocatable`` never change;
* per resource: the ``reserved`` memory of all nodes adds up to the blocks in the checkpoint;
* NUMA groups: a node is in its own ``cells``, every node of a group lists the same cells and the
  same ``number_of_assignments``, which counts the checkpoint blocks touching the node, and a node
  without assignments is a group of its own;
* removing every pod, then letting one more admission collect stale state, gives back the initial
  state (a rejected pod's partial allocation is never "removed": it is not an active pod, and the
  kubelet frees it lazily in ``removeStaleState`` at the next admission);
* replaying the same document twice gives the same outcomes.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.manager import MemoryManager
from allocator.replay import replay_document
from allocator.scenario import parse_scenario

MI = 1 << 20
GI = 1 << 30
PAGE_SIZES = {"hugepages-2Mi": 2 * MI, "hugepages-1Gi": GI}
POLICIES = ("none", "best-effort", "restricted", "single-numa-node")
SCOPES = ("container", "pod")

PROPERTY_SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- strategies ---------------------------------------------------------------------------------


@st.composite
def machines(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """A machine (1-4 NUMA nodes, ids possibly non-contiguous) and its reserved memory.

    Every node reports the same hugepage sizes: the real code crashes when a pod asks for a size
    that a node lacks (vectors README, quirk 7), which is not what these properties are about.
    """
    ids = sorted(draw(st.sets(st.integers(0, 11), min_size=1, max_size=4)))
    sizes = draw(st.lists(st.sampled_from(sorted(PAGE_SIZES)), unique=True, max_size=2))
    nodes, reserved = [], []
    for numa_id in ids:
        # cadvisor's Node.Memory includes the hugepage pools and the reservation; what is left is
        # the allocatable regular memory.
        hugepages = {
            size: draw(st.integers(0, 4 if size == "hugepages-1Gi" else 256)) * PAGE_SIZES[size]
            for size in sizes
        }
        system_reserved = draw(st.integers(1, 4)) * 256 * MI
        memory = draw(st.integers(1, 12)) * GI + system_reserved + sum(hugepages.values())
        nodes.append({"id": numa_id, "memory": memory, **hugepages})
        reserved.append({"numa_node": numa_id, "limits": {"memory": system_reserved}})
    return {"numa_nodes": nodes, "distances": None}, reserved, sizes


def containers(draw: st.DrawFn, prefix: str, count: int, sizes: list[str], guaranteed: bool) -> list[dict]:
    result = []
    for index in range(count):
        amounts = {"cpu": "1", "memory": f"{draw(st.integers(1, 48)) * 256}Mi"}
        for size in sizes:
            if draw(st.booleans()):
                pages = draw(st.integers(1, 2 if size == "hugepages-1Gi" else 64))
                amounts[size] = str(pages * PAGE_SIZES[size])
        limits = amounts if guaranteed else {"memory": amounts["memory"]}
        requests = dict(amounts) if guaranteed else {"memory": amounts["memory"]}
        result.append(
            {"name": f"{prefix}{index}", "resources": {"requests": requests, "limits": dict(limits)}}
        )
    return result


@st.composite
def pods(draw: st.DrawFn, uid: str, sizes: list[str]) -> dict[str, Any]:
    """A pod of 1-3 app containers, maybe an init container and a sidecar; mostly Guaranteed."""
    guaranteed = draw(st.integers(0, 4)) > 0
    spec: dict[str, Any] = {"containers": containers(draw, "app", draw(st.integers(1, 3)), sizes, guaranteed)}
    init = containers(draw, "init", draw(st.integers(0, 1)), sizes, guaranteed)
    if draw(st.booleans()):
        sidecar = containers(draw, "sidecar", 1, sizes, guaranteed)[0]
        sidecar["restartPolicy"] = "Always"
        init.insert(draw(st.integers(0, len(init))), sidecar)
    if init:
        spec["initContainers"] = init
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": uid, "namespace": "default", "uid": uid},
        "spec": spec,
    }


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario document with a random history of admissions and removals."""
    machine, reserved, sizes = draw(machines())
    kubelet = {
        "topology_manager_policy": draw(st.sampled_from(POLICIES)),
        "topology_manager_scope": draw(st.sampled_from(SCOPES)),
        "reserved_memory": reserved,
    }
    steps: list[dict[str, Any]] = []
    admitted: list[str] = []
    for index in range(draw(st.integers(1, 10))):
        if admitted and draw(st.integers(0, 2)) == 0:
            uid = admitted.pop(draw(st.integers(0, len(admitted) - 1)))
            steps.append({"op": "remove", "pod_uid": uid})
        else:
            uid = f"pod-{index}"
            admitted.append(uid)
            steps.append({"op": "admit", "pod": draw(pods(uid, sizes))})
    return {"name": "random", "machine": machine, "kubelet": kubelet, "steps": steps}


# --- invariants ---------------------------------------------------------------------------------


def checkpoint_blocks(checkpoint: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        block
        for containers_ in (checkpoint.get("entries") or {}).values()
        for blocks in containers_.values()
        for block in blocks
    ]


def assert_invariants(manager: MemoryManager, initial: dict[str, Any]) -> None:
    state, groups, checkpoint = manager.state(), manager.numa_groups(), manager.checkpoint()
    assert set(state) == set(initial) == set(groups)
    reserved_by_type: Counter[str] = Counter()
    for numa_id, resources in state.items():
        assert set(resources) == set(initial[numa_id])
        for resource, table in resources.items():
            assert min(table.values()) >= 0, (numa_id, resource, table)
            assert table["free"] + table["reserved"] == table["allocatable"], (numa_id, resource, table)
            for fixed in ("total", "system_reserved", "allocatable"):
                assert table[fixed] == initial[numa_id][resource][fixed]
            reserved_by_type[resource] += table["reserved"]

    blocks = checkpoint_blocks(checkpoint)
    blocks_by_type: Counter[str] = Counter()
    touching: Counter[str] = Counter()
    for block in blocks:
        blocks_by_type[block["type"]] += block["size"]
        touching.update(str(numa_id) for numa_id in block["numaAffinity"])
    assert +reserved_by_type == +blocks_by_type

    for numa_id, group in groups.items():
        cells = group["cells"]
        assert int(numa_id) in cells and cells == sorted(cells)
        assert group["number_of_assignments"] == touching[numa_id]
        if group["number_of_assignments"] == 0:
            assert cells == [int(numa_id)]
        for member in cells:
            assert groups[str(member)] == group


def sweeper_pod() -> dict[str, Any]:
    """A BestEffort pod: its admission runs ``removeStaleState`` and allocates nothing."""
    container = {"name": "sweep", "resources": {}}
    metadata = {"name": "sweeper", "namespace": "default", "uid": "sweeper"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"containers": [container]}}


# --- properties ---------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scenarios())
def test_invariants_hold_after_every_step_and_removal_restores_the_start(doc: dict[str, Any]) -> None:
    manager = MemoryManager.from_scenario(parse_scenario(doc))
    initial = manager.initial_state()
    assert_invariants(manager, initial)
    for step in doc["steps"]:
        manager.apply(step)
        assert_invariants(manager, initial)

    for pod in list(manager.active_pods()):
        outcome = manager.apply({"op": "remove", "pod_uid": pod["metadata"]["uid"]})
        assert outcome.result["removed"] is True
        assert_invariants(manager, initial)
    assert manager.active_pods() == []
    manager.apply({"op": "admit", "pod": sweeper_pod()})
    manager.apply({"op": "remove", "pod_uid": "sweeper"})
    assert manager.state() == initial
    assert manager.assignments() == {}
    assert all(
        group == {"cells": [int(n)], "number_of_assignments": 0} for n, group in manager.numa_groups().items()
    )


@PROPERTY_SETTINGS
@given(scenarios())
def test_replay_is_deterministic(doc: dict[str, Any]) -> None:
    first = replay_document(doc, metrics=True)
    assert replay_document(doc, metrics=True) == first
    assert len(first["steps"]) == len(doc["steps"])


@PROPERTY_SETTINGS
@given(scenarios(), st.integers(0, 10))
def test_a_snapshot_carries_on_exactly_like_the_original(doc: dict[str, Any], split: int) -> None:
    """The playground caches engines as JSON snapshots: a restored engine must decide identically."""
    scenario = parse_scenario(doc)
    original = MemoryManager.from_scenario(scenario)
    split = min(split, len(doc["steps"]))
    for step in doc["steps"][:split]:
        original.apply(step)
    snapshot = json.loads(json.dumps(original.to_snapshot()))  # as a database would store it
    restored = MemoryManager.from_snapshot(snapshot)
    assert restored.to_snapshot() == original.to_snapshot()
    for step in doc["steps"][split:]:
        assert restored.apply(step).result == original.apply(step).result
    assert restored.to_snapshot() == original.to_snapshot()
    assert restored.metrics() == original.metrics()
