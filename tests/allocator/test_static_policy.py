"""The Static Memory Manager policy, table-driven after ``policy_static_test.go``.

Each case builds a machine, reaches the starting state through the policy itself (earlier
allocations), then checks hints, allocation results, errors and the machine state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from allocator.bitmask import mask_of
from allocator.hints import TopologyHint
from allocator.memory_policy import AllocationError, StaticPolicy
from allocator.memory_policy.static import (
    ERR_DEFAULT_AFFINITY,
    ERR_DEFAULT_PREFERRED,
    ERR_EXTEND,
    ERR_EXTENDED_PREFERRED,
    ERR_VIOLATES_GROUPS,
    find_best_hint,
    get_pod_requested_resources,
)
from allocator.pods import Pod, parse_pod
from allocator.state import MemoryState
from allocator.topology_manager import KubeletPanic

GI = 1 << 30
MI = 1 << 20
HP = "hugepages-1Gi"
RESERVED = 512 * MI


def make(*nodes: tuple[int, dict[str, int]]) -> tuple[StaticPolicy, MemoryState]:
    """Nodes given as (memory allocatable, hugepage pools); 512Mi of memory reserved on each."""
    specs = [(i, alloc + RESERVED + sum(hp.values()), hp) for i, (alloc, hp) in enumerate(nodes)]
    policy = StaticPolicy(specs, {i: {"memory": RESERVED} for i in range(len(nodes))})
    state = MemoryState({})
    policy.start(state)
    return policy, state


def _resources(sizes: dict[str, int | str]) -> dict[str, Any]:
    values = {"cpu": "1", **{k: str(v) for k, v in sizes.items()}}
    return {"requests": values, "limits": values}


def pod(
    uid: str,
    *containers: tuple[str, dict[str, int | str]],
    init: tuple[tuple[str, dict[str, int | str]], ...] = (),
    sidecars: frozenset[str] = frozenset(),
    guaranteed: bool = True,
) -> Pod:
    def spec(name: str, sizes: dict[str, int | str]) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": name, "resources": _resources(sizes)}
        if not guaranteed:
            doc["resources"] = {"requests": {k: str(v) for k, v in sizes.items()}}
        if name in sidecars:
            doc["restartPolicy"] = "Always"
        return doc

    return parse_pod(
        {
            "metadata": {"name": uid, "uid": uid},
            "spec": {
                "containers": [spec(n, s) for n, s in containers],
                "initContainers": [spec(n, s) for n, s in init],
            },
        }
    )


def hint(ids: list[int] | None, preferred: bool) -> TopologyHint:
    return TopologyHint(None if ids is None else mask_of(ids), preferred)


def allocate_all(policy: StaticPolicy, state: MemoryState, p: Pod, h: TopologyHint) -> None:
    for container in p.all_containers:
        policy.allocate(state, p, container, h)


def free(state: MemoryState, node: int, resource: str = "memory") -> int:
    return state.machine_state[node].memory_map[resource].free


# -- hints ----------------------------------------------------------------------------------------


@dataclass
class HintCase:
    description: str
    nodes: tuple[tuple[int, dict[str, int]], ...]
    setup: list[tuple[Pod, TopologyHint]]
    pod: Pod
    expected: dict[str, list[tuple[list[int], bool]]] | None


HINT_CASES = [
    HintCase(
        "should not provide topology hints for non-guaranteed pods",
        ((1536 * MI, {HP: GI}),),
        [],
        pod("p", ("c", {"memory": GI}), guaranteed=False),
        None,
    ),
    HintCase(
        "should offer every single node and the pair on an empty two-node machine",
        ((4 * GI, {}), (4 * GI, {})),
        [],
        pod("p", ("c", {"memory": GI})),
        {"memory": [([0], True), ([1], True), ([0, 1], False)]},
    ),
    HintCase(
        "should prefer only the pairs when no single node could ever hold the request",
        ((512 * MI, {HP: GI}),) * 4,
        [],
        pod("p", ("c", {"memory": GI, HP: GI})),
        {
            r: [
                ([0, 1], True),
                ([0, 2], True),
                ([0, 3], True),
                ([1, 2], True),
                ([1, 3], True),
                ([2, 3], True),
                ([0, 1, 2], False),
                ([0, 1, 3], False),
                ([0, 2, 3], False),
                ([1, 2, 3], False),
                ([0, 1, 2, 3], False),
            ]
            for r in ("memory", HP)
        },
    ),
    HintCase(
        "should calculate new topology hints around an existing NUMA group",
        ((1536 * MI, {HP: GI}),) * 4,
        [(pod("p1", ("c", {"memory": 2 * GI, HP: 2 * GI})), hint([0, 1], True))],
        pod("p2", ("c", {"memory": GI, HP: GI})),
        {r: [([2], True), ([3], True), ([2, 3], False)] for r in ("memory", HP)},
    ),
    HintCase(
        "should not return preferred hints with multiple NUMA nodes for a pod one node could hold",
        ((1536 * MI, {"hugepages-2Mi": 20 * MI}),) * 2,
        [(pod("p1", ("c", {"memory": 2 * GI, "hugepages-2Mi": 24 * MI})), hint([0, 1], True))],
        pod("p2", ("c", {"memory": GI, "hugepages-2Mi": 16 * MI})),
        {r: [([0, 1], False)] for r in ("memory", "hugepages-2Mi")},
    ),
    HintCase(
        "should exclude multi-node masks over a node with single-NUMA allocations",
        ((9 * GI, {}),) * 2,
        [(pod("p1", ("c", {"memory": GI})), hint([0], True))],
        pod("p2", ("c", {"memory": GI})),
        {"memory": [([0], True), ([1], True)]},
    ),
    HintCase(
        "should return an empty map when no mask has enough free memory",
        ((GI, {}),) * 2,
        [
            (pod("p1", ("c", {"memory": GI})), hint([0], True)),
            (pod("p2", ("c", {"memory": GI})), hint([1], True)),
        ],
        pod("p3", ("c", {"memory": GI})),
        {},
    ),
    HintCase(
        "should provide topology hints based on the existent memory assignment",
        ((1536 * MI, {HP: GI}),),
        [(pod("p", ("c", {"memory": GI, HP: GI})), hint([0], True))],
        pod("p", ("c", {"memory": GI, HP: GI})),
        {"memory": [([0], True)], HP: [([0], True)]},
    ),
    HintCase(
        "should fail when the existing assignment differs in size from the request",
        ((1536 * MI, {HP: GI}),),
        [(pod("p", ("c", {"memory": 512 * MI, HP: GI})), hint([0], True))],
        pod("p", ("c", {"memory": GI, HP: GI})),
        None,
    ),
    HintCase(
        "should fail when the existing assignment has fewer blocks than requested resources",
        ((1536 * MI, {HP: GI}),),
        [(pod("p", ("c", {"memory": GI})), hint([0], True))],
        pod("p", ("c", {"memory": GI, HP: GI})),
        None,
    ),
    HintCase(
        "should give nil hints when a quantity cannot be represented as int64",
        ((4 * GI, {}),),
        [],
        pod("p", ("c", {"memory": "1.5Gi"})),
        None,
    ),
]


@pytest.mark.parametrize("case", HINT_CASES, ids=[c.description for c in HINT_CASES])
def test_get_topology_hints(case: HintCase) -> None:
    policy, state = make(*case.nodes)
    for setup_pod, setup_hint in case.setup:
        allocate_all(policy, state, setup_pod, setup_hint)
    got = policy.get_topology_hints(state, case.pod, case.pod.containers[0])
    if case.expected is None:
        assert got is None
        return
    assert got is not None
    assert {r: [(hint_ids(h), h.preferred) for h in hs] for r, hs in got.items()} == case.expected


def hint_ids(h: TopologyHint) -> list[int]:
    assert h.numa_affinity is not None
    return [i for i in range(64) if h.numa_affinity >> i & 1]


def test_pod_scope_hints_regenerate_against_the_pod_total() -> None:
    # Upstream quirk: the first allocated container's blocks are compared with the pod's total request.
    policy, state = make((8 * GI, {}), (8 * GI, {}))
    p = pod("p", ("a", {"memory": GI}), ("b", {"memory": 2 * GI}))
    assert policy.get_pod_topology_hints(state, p) is not None
    allocate_all(policy, state, p, hint([0], True))
    assert policy.get_pod_topology_hints(state, p) is None
    single = pod("s", ("a", {"memory": GI}))
    allocate_all(policy, state, single, hint([1], True))
    regenerated = policy.get_pod_topology_hints(state, single)
    assert regenerated == {"memory": [hint([1], True)]}


def test_a_hugepage_size_the_machine_does_not_report_is_the_kubelet_panic() -> None:
    policy, state = make(
        (4 * GI, {}),
    )
    with pytest.raises(KubeletPanic) as info:
        policy.get_topology_hints(
            state,
            pod("p", ("c", {"memory": GI, "hugepages-2Mi": 2 * MI})),
            pod("p", ("c", {"memory": GI, "hugepages-2Mi": 2 * MI})).containers[0],
        )
    assert info.value.value == "runtime error: invalid memory address or nil pointer dereference"


# -- allocate -------------------------------------------------------------------------------------


@dataclass
class AllocateCase:
    description: str
    nodes: tuple[tuple[int, dict[str, int]], ...]
    setup: list[tuple[Pod, TopologyHint]]
    pod: Pod
    hint: TopologyHint
    error: str | None = None
    blocks: list[tuple[list[int], str, int]] = field(default_factory=list)
    free_after: dict[tuple[int, str], int] = field(default_factory=dict)


ALLOCATE_CASES = [
    AllocateCase(
        "should do nothing for non-guaranteed pods",
        ((1536 * MI, {HP: GI}),),
        [],
        pod("p", ("c", {"memory": GI}), guaranteed=False),
        hint(None, False),
        free_after={(0, "memory"): 1536 * MI},
    ),
    AllocateCase(
        "should calculate a default topology hint when no NUMA affinity was provided",
        ((1536 * MI, {HP: GI}),),
        [],
        pod("p", ("c", {"memory": GI, HP: GI})),
        hint(None, False),
        blocks=[([0], HP, GI), ([0], "memory", GI)],
        free_after={(0, "memory"): 512 * MI, (0, HP): 0},
    ),
    AllocateCase(
        "should fail when calculation of the default hint failed",
        ((1536 * MI, {HP: GI}),),
        [(pod("p1", ("c", {"memory": GI, HP: GI})), hint(None, False))],
        pod("p2", ("c", {"memory": GI, HP: GI})),
        hint(None, False),
        error=ERR_DEFAULT_AFFINITY,
    ),
    AllocateCase(
        "should fail when the topology manager wanted a preferred hint and the default one is not",
        ((GI, {HP: GI}), (512 * MI, {HP: GI}), (512 * MI, {HP: GI})),
        [(pod("p1", ("c", {"memory": 512 * MI})), hint([0], True))],
        pod("p2", ("c", {"memory": GI, HP: GI})),
        hint(None, True),
        error=ERR_DEFAULT_PREFERRED,
    ),
    AllocateCase(
        "should fail when the hint did not satisfy the request and extension failed",
        ((512 * MI, {HP: GI}), (1536 * MI, {HP: GI}), (1536 * MI, {HP: GI})),
        [(pod("p0", ("c", {"memory": 2 * GI})), hint([1, 2], False))],
        pod("p1", ("c", {"memory": GI, HP: GI})),
        hint([0], False),
        error=ERR_EXTEND,
    ),
    AllocateCase(
        "should fail when the extended hint is not preferred but the topology hint was",
        ((GI, {HP: GI}), (512 * MI, {HP: GI}), (512 * MI, {HP: GI})),
        [(pod("p1", ("c", {"memory": 512 * MI})), hint([0], True))],
        pod("p2", ("c", {"memory": GI, HP: GI})),
        hint([1], True),
        error=ERR_EXTENDED_PREFERRED,
    ),
    AllocateCase(
        "should succeed to allocate memory from multiple NUMA nodes, lowest node first",
        ((512 * MI, {HP: GI}),) * 4,
        [],
        pod("p", ("c", {"memory": GI, HP: GI})),
        hint(None, True),
        blocks=[([0, 1], HP, GI), ([0, 1], "memory", GI)],
        free_after={(0, "memory"): 0, (1, "memory"): 0, (0, HP): 0, (1, HP): GI, (2, "memory"): 512 * MI},
    ),
    AllocateCase(
        "should extend a too small topology hint to the narrowest feasible superset",
        ((GI, {}), (GI, {}), (GI, {})),
        [],
        pod("p", ("c", {"memory": 3 * GI // 2})),
        hint([1], False),
        blocks=[([0, 1], "memory", 3 * GI // 2)],
        free_after={(0, "memory"): 0, (1, "memory"): GI // 2},
    ),
    AllocateCase(
        "should refuse a multi-node hint over a node with single-NUMA allocations",
        ((4 * GI, {}), (4 * GI, {})),
        [(pod("p1", ("c", {"memory": GI})), hint([0], True))],
        pod("p2", ("c", {"memory": GI})),
        hint([0, 1], False),
        error=ERR_VIOLATES_GROUPS,
    ),
    AllocateCase(
        "should keep a single-node hint on a grouped node (upstream joint-groups quirk)",
        ((4 * GI, {}), (4 * GI, {})),
        [(pod("p1", ("c", {"memory": 5 * GI})), hint([0, 1], True))],
        pod("p2", ("c", {"memory": GI})),
        hint([1], True),
        blocks=[([1], "memory", GI)],
        free_after={(1, "memory"): 2 * GI},
    ),
    AllocateCase(
        "should fail to represent a fractional binary quantity as int64",
        ((4 * GI, {}),),
        [],
        pod("p", ("c", {"memory": "1.5Gi"})),
        hint(None, False),
        error="[memorymanager] failed to represent quantity as int64",
    ),
]


@pytest.mark.parametrize("case", ALLOCATE_CASES, ids=[c.description for c in ALLOCATE_CASES])
def test_allocate(case: AllocateCase) -> None:
    policy, state = make(*case.nodes)
    for setup_pod, setup_hint in case.setup:
        allocate_all(policy, state, setup_pod, setup_hint)
    before = state.checkpoint_json("Static")
    requests, errors = policy.metrics.pinning_requests, policy.metrics.pinning_errors
    container = case.pod.containers[0]
    if case.error is not None:
        with pytest.raises(AllocationError) as info:
            policy.allocate(state, case.pod, container, case.hint)
        assert info.value.message == case.error
        assert state.checkpoint_json("Static") == before  # a failed Allocate changes nothing
        assert (policy.metrics.pinning_requests, policy.metrics.pinning_errors) == (requests + 1, errors + 1)
        return
    policy.allocate(state, case.pod, container, case.hint)
    blocks = state.get_memory_blocks(case.pod.uid, container.name) or []
    assert sorted((b.numa_affinity, b.type, b.size) for b in blocks) == sorted(case.blocks)
    for (node, resource), value in case.free_after.items():
        assert free(state, node, resource) == value
    for node in state.machine_state.values():
        for table in node.memory_map.values():
            assert table.free + table.reserved == table.allocatable


def test_allocate_is_idempotent_but_counts_every_call() -> None:
    policy, state = make(
        (1536 * MI, {HP: GI}),
    )
    p = pod("p", ("c", {"memory": GI, HP: GI}))
    policy.allocate(state, p, p.containers[0], hint(None, False))
    snapshot = state.checkpoint_json("Static")
    policy.allocate(state, p, p.containers[0], hint(None, False))
    assert state.checkpoint_json("Static") == snapshot
    assert policy.metrics.pinning_requests == 2
    assert policy.metrics.pinning_errors == 0


def test_cross_numa_allocation_forms_a_group_counted_per_block() -> None:
    policy, state = make(*((512 * MI, {HP: GI}),) * 4)
    p = pod("p", ("c", {"memory": GI, HP: GI}))
    policy.allocate(state, p, p.containers[0], hint(None, True))
    groups = state.numa_groups_json()
    assert groups["0"] == {"cells": [0, 1], "number_of_assignments": 2}
    assert groups["1"] == {"cells": [0, 1], "number_of_assignments": 2}
    assert groups["2"] == {"cells": [2], "number_of_assignments": 0}


# -- init containers and sidecars --------------------------------------------------------------


REUSE_CASES = [
    (
        "should re-use init containers memory, init 1Gi and 2Gi, apps 3Gi and 4Gi",
        [1, 2],
        [3, 4],
        frozenset(),
        {"init1": 0, "init2": 0, "c1": 3, "c2": 4},
        7,
    ),
    (
        "should re-use init containers memory, init 4Gi and 3Gi, apps 2Gi and 1Gi",
        [4, 3],
        [2, 1],
        frozenset(),
        {"init1": 0, "init2": 1, "c1": 2, "c2": 1},
        4,
    ),
    (
        "should re-use init containers memory, init 7Gi and 4Gi, apps 4Gi and 3Gi",
        [7, 4],
        [4, 3],
        frozenset(),
        {"init1": 0, "init2": 0, "c1": 4, "c2": 3},
        7,
    ),
    (
        "should not re-use restartable init containers memory",
        [1, 2, 3, 4],
        [1],
        frozenset({"init2", "init4"}),
        {"init1": 0, "init2": 2, "init3": 0, "init4": 4, "c1": 1},
        7,
    ),
]


@pytest.mark.parametrize(
    ("inits", "apps", "sidecars", "sizes", "reserved"),
    [c[1:] for c in REUSE_CASES],
    ids=[c[0] for c in REUSE_CASES],
)
def test_init_container_memory_reuse(
    inits: list[int], apps: list[int], sidecars: frozenset[str], sizes: dict[str, int], reserved: int
) -> None:
    policy, state = make(
        (10 * GI, {HP: 10 * GI}),
    )
    p = pod(
        "p",
        *[(f"c{i + 1}", {"memory": s * GI, HP: s * GI}) for i, s in enumerate(apps)],
        init=tuple((f"init{i + 1}", {"memory": s * GI, HP: s * GI}) for i, s in enumerate(inits)),
        sidecars=sidecars,
    )
    allocate_all(policy, state, p, hint(None, False))
    for name, size in sizes.items():
        blocks = state.get_memory_blocks("p", name) or []
        assert {b.type: b.size for b in blocks} == {"memory": size * GI, HP: size * GI}, name
    for resource in ("memory", HP):
        assert state.machine_state[0].memory_map[resource].reserved == reserved * GI
    # The block sizes add up to what is really reserved: that is what the bookkeeping is for.
    assert sum(sizes.values()) == reserved


def test_reusable_memory_of_other_pods_is_discarded() -> None:
    policy, state = make(
        (10 * GI, {}),
    )
    first = pod("a", ("app", {"memory": GI}), init=(("init", {"memory": 4 * GI}),))
    policy.allocate(state, first, first.init_containers[0], hint(None, False))
    assert policy.reusable == {"a": {mask_of([0]): {"memory": 4 * GI}}}
    other = pod("b", ("app", {"memory": GI}))
    policy.allocate(state, other, other.containers[0], hint(None, False))
    assert "a" not in policy.reusable


POD_REQUEST_CASES = [
    ("init 1Gi, 4Gi / app 1Gi, 2Gi", [("i1", 1, False), ("i2", 4, False)], [1, 2], 4),
    ("init 1Gi, 3Gi / app 2Gi, 3Gi", [("i1", 1, False), ("i2", 3, False)], [2, 3], 5),
    ("sidecar 2Gi then init 4Gi / app 1Gi and 2Gi", [("s", 2, True), ("i", 4, False)], [1, 2], 6),
    ("sidecar 2Gi then init 4Gi / app 2Gi and 3Gi", [("s", 2, True), ("i", 4, False)], [2, 3], 7),
    ("no init containers", [], [2, 3], 5),
]


@pytest.mark.parametrize(
    ("inits", "apps", "total"), [c[1:] for c in POD_REQUEST_CASES], ids=[c[0] for c in POD_REQUEST_CASES]
)
def test_get_pod_requested_resources(inits: list[tuple[str, int, bool]], apps: list[int], total: int) -> None:
    p = pod(
        "p",
        *[(f"c{i}", {"memory": s * GI}) for i, s in enumerate(apps)],
        init=tuple((n, {"memory": s * GI}) for n, s, _ in inits),
        sidecars=frozenset(n for n, _, side in inits if side),
    )
    assert get_pod_requested_resources(p) == {"memory": total * GI}


def test_a_resource_requested_only_by_init_containers_is_dropped_from_the_pod_request() -> None:
    p = pod("p", ("c", {"memory": GI}), init=(("i", {"memory": GI, HP: GI}),))
    assert get_pod_requested_resources(p) == {"memory": GI}


# -- removal --------------------------------------------------------------------------------------


def test_remove_cross_numa_container_releases_lowest_node_first_and_dissolves_the_group() -> None:
    policy, state = make(*((512 * MI, {HP: GI}),) * 2)
    p = pod("p", ("c", {"memory": GI, HP: GI}))
    policy.allocate(state, p, p.containers[0], hint(None, True))
    policy.remove_container(state, "p", "c")
    assert state.assignments == {}
    for node in (0, 1):
        assert free(state, node) == 512 * MI
        assert free(state, node, HP) == GI
    assert state.numa_groups_json() == {
        "0": {"cells": [0], "number_of_assignments": 0},
        "1": {"cells": [1], "number_of_assignments": 0},
    }
    policy.remove_container(state, "p", "c")  # idempotent


@pytest.mark.parametrize(
    ("hints", "best"),
    [
        ([hint([0, 1], False), hint([0], True), hint([1], True)], hint([0], True)),
        ([hint([1, 2], False), hint([0, 3], False)], hint([1, 2], False)),
        ([], hint(None, False)),
    ],
    ids=["preferred beats narrower", "narrower mask value breaks ties", "empty list gives the zero hint"],
)
def test_find_best_hint(hints: list[TopologyHint], best: TopologyHint) -> None:
    assert find_best_hint(hints) == best
