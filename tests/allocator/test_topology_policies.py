"""Topology Manager policies: table-driven like the kubelet's policy_*_test.go, plus an equivalence
property between the fast merge and the kubelet's full permutation walk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.bitmask import mask_of
from allocator.errors import ConfigError
from allocator.hints import TopologyHint
from allocator.topology_manager import (
    HintMerger,
    KubeletPanic,
    NUMAInfo,
    Policy,
    PolicyOptions,
    filter_providers_hints,
    new_manager,
    new_policy,
)
from allocator.topology_manager.policy_single_numa_node import filter_single_numa_hints


def h(ids: list[int] | None, preferred: bool) -> TopologyHint:
    return TopologyHint(None if ids is None else mask_of(ids), preferred)


# (description, providers_hints, {policy: (expected hint, admit)})
# Two NUMA nodes, ids 0 and 1; cases follow the kubelet's commonPolicyMergeTestCases.
MERGE_CASES = [
    (
        "no providers",
        [],
        {
            "best-effort": (h([0, 1], True), True),
            "restricted": (h([0, 1], True), True),
            "single-numa-node": (h(None, True), True),
        },
    ),
    (
        "provider with no preference (empty map)",
        [{}],
        {
            "best-effort": (h([0, 1], True), True),
            "restricted": (h([0, 1], True), True),
            "single-numa-node": (h(None, True), True),
        },
    ),
    (
        "resource with nil hints: no preference",
        [{"memory": None}],
        {
            "best-effort": (h([0, 1], True), True),
            "restricted": (h([0, 1], True), True),
            "single-numa-node": (h(None, True), True),
        },
    ),
    (
        "resource with empty hints: no possible affinity",
        [{"memory": []}],
        {
            "best-effort": (h([0, 1], False), True),
            "restricted": (h([0, 1], False), False),
            "single-numa-node": (h(None, False), False),
        },
    ),
    (
        "single preferred NUMA 0 plus a wider non-preferred",
        [{"memory": [h([0], True), h([0, 1], False)]}],
        {
            "best-effort": (h([0], True), True),
            "restricted": (h([0], True), True),
            "single-numa-node": (h([0], True), True),
        },
    ),
    (
        "two providers agreeing on NUMA 1",
        [{"memory": [h([1], True), h([0, 1], False)]}, {"hugepages-1Gi": [h([0], True), h([1], True)]}],
        {
            "best-effort": (h([1], True), True),
            "restricted": (h([1], True), True),
            "single-numa-node": (h([1], True), True),
        },
    ),
    (
        "two providers disagreeing: the merged mask is empty, only non-preferred remains",
        [{"memory": [h([0], True)]}, {"hugepages-1Gi": [h([1], True)]}],
        {
            "best-effort": (h([0, 1], False), True),
            "restricted": (h([0, 1], False), False),
            "single-numa-node": (h(None, False), False),
        },
    ),
    (
        "only a multi-NUMA preferred hint",
        [{"memory": [h([0, 1], True)]}],
        {
            "best-effort": (h([0, 1], True), True),
            "restricted": (h([0, 1], True), True),
            # filtered away: the default non-preferred hint, reported as nil (it spans the machine)
            "single-numa-node": (h(None, False), False),
        },
    ),
    (
        "preferred on both single nodes: the lower one wins",
        [{"memory": [h([1], True), h([0], True), h([0, 1], False)]}],
        {
            "best-effort": (h([0], True), True),
            "restricted": (h([0], True), True),
            "single-numa-node": (h([0], True), True),
        },
    ),
    (
        "non-preferred only: aim for the largest narrowest size",
        [{"memory": [h([0, 1], False)]}, {"cpu": [h([0], False), h([1], False), h([0, 1], False)]}],
        {
            "best-effort": (h([0, 1], False), True),
            "restricted": (h([0, 1], False), False),
            "single-numa-node": (h(None, False), False),
        },
    ),
    (
        "preferred multi-node on both providers with equal masks stays preferred",
        [{"memory": [h([0, 1], True)]}, {"hugepages-2Mi": [h([0, 1], True)]}],
        {
            "best-effort": (h([0, 1], True), True),
            "restricted": (h([0, 1], True), True),
            "single-numa-node": (h(None, False), False),
        },
    ),
    (
        "nil preferred hint next to a specific one keeps the preference",
        [{"memory": [h([1], True)]}, {"device": [h(None, True)]}],
        {
            "best-effort": (h([1], True), True),
            "restricted": (h([1], True), True),
            "single-numa-node": (h([1], True), True),
        },
    ),
]


@pytest.mark.parametrize(
    ("description", "providers", "expected"), MERGE_CASES, ids=[c[0] for c in MERGE_CASES]
)
@pytest.mark.parametrize("policy_name", ["best-effort", "restricted", "single-numa-node"])
def test_policy_merge(description: str, providers: list, expected: dict, policy_name: str) -> None:
    policy = new_policy(policy_name, [0, 1])
    assert policy.name == policy_name
    assert policy.merge(providers) == expected[policy_name]


def test_none_policy_admits_with_empty_hint() -> None:
    policy = new_policy("none", list(range(16)))
    assert policy.merge([{"memory": []}]) == (TopologyHint(None, False), True)


def test_filter_providers_hints_shapes() -> None:
    filtered = filter_providers_hints([None, {}, {"a": None, "b": [], "c": [h([0], True)]}])
    assert filtered == [[h(None, True)], [h(None, True)], [h(None, True)], [h(None, False)], [h([0], True)]]
    assert filter_single_numa_hints([[h([0, 1], True), h([0], False), h([1], True), h(None, True)]]) == [
        [h([1], True), h(None, True)]
    ]


@pytest.mark.parametrize(
    ("current", "candidate", "target", "winner"),
    [
        # case 1: current wider than target -> the narrower of the two
        ([0, 1, 2], [0, 1], 1, "candidate"),
        # case 2: current at target keeps unless the candidate is at target and narrower
        ([1], [0, 1], 1, "current"),
        ([1], [0], 1, "candidate"),
        # case 3a/3b: current below target
        ([0], [0, 1, 2], 2, "current"),
        ([0], [1, 2], 2, "candidate"),
        # case 3ca/3cb/3cc
        ([0], [1, 2], 3, "candidate"),
        ([1, 2], [0], 3, "current"),
        ([1, 2], [0, 1], 3, "candidate"),
    ],
)
def test_compare_non_preferred_cases(
    current: list[int], candidate: list[int], target: int, winner: str
) -> None:
    merger = HintMerger(NUMAInfo([0, 1, 2, 3]), [], "restricted", PolicyOptions())
    merger.best_non_preferred_affinity_count = target
    cur, cand = h(current, False), h(candidate, False)
    assert merger.compare(cur, cand) is (cur if winner == "current" else cand)


def _distances(ids: list[int], close: tuple[int, int]) -> dict[int, dict[int, int]]:
    return {a: {b: 10 if a == b else (11 if {a, b} == set(close) else 21) for b in ids} for a in ids}


def test_prefer_closest_picks_closest_pair() -> None:
    ids = [0, 2, 4, 6]
    dist = _distances(ids, (2, 4))
    pair_hints = [{"memory": [h(list(p), True) for p in ([0, 2], [0, 4], [2, 4], [4, 6])]}]
    closest = new_policy("best-effort", ids, dist, {"prefer-closest-numa-nodes": "true"})
    plain = new_policy("best-effort", ids, dist, {"prefer-closest-numa-nodes": "false"})
    assert closest.merge(pair_hints) == (h([2, 4], True), True)
    assert plain.merge(pair_hints) == (h([0, 2], True), True)


def test_prefer_closest_position_indexed_distances_panic() -> None:
    ids = [0, 2, 4, 6]
    rows = {i: [10, 21, 21, 21] for i in ids}  # sysfs rows in node order: indexed by position, not id
    policy = new_policy("best-effort", ids, rows, {"prefer-closest-numa-nodes": "true"})
    # A single-node merge never compares two same-size masks with distances of the missing ids... but
    # comparing [0, 2] with [0, 4] indexes row 0 at 4.
    with pytest.raises(KubeletPanic) as exc:
        policy.merge([{"memory": [h([0, 2], True), h([0, 4], True)]}])
    assert exc.value.value == "runtime error: index out of range [4] with length 4"
    # single-numa-node never reads distances.
    snn = new_policy("single-numa-node", ids, rows, {"prefer-closest-numa-nodes": "true"})
    assert snn.merge([{"memory": [h([2], True), h([4], True)]}]) == (h([2], True), True)


MANAGER_ERRORS = [
    ("best-effort", "container", 9, {}, None, "unsupported on machines with more than 8 NUMA Nodes"),
    (
        "restricted",
        "container",
        12,
        {"max-allowable-numa-nodes": "10"},
        None,
        "unsupported on machines with more than 10 NUMA Nodes",
    ),
    (
        "single-numa-node",
        "pod",
        2,
        {"max-allowable-numa-nodes": "4"},
        None,
        'the minimum value of "max-allowable-numa-nodes" should not be less than 8',
    ),
    (
        "restricted",
        "pod",
        2,
        {"max-allowable-numa-nodes": "ten"},
        None,
        'unable to convert policy option to integer "max-allowable-numa-nodes": '
        'strconv.Atoi: parsing "ten": invalid syntax',
    ),
    (
        "restricted",
        "pod",
        2,
        {"prefer-closest-numa-nodes": "yes"},
        None,
        'bad value for option "prefer-closest-numa-nodes": strconv.ParseBool: parsing "yes": invalid syntax',
    ),
    (
        "best-effort",
        "pod",
        2,
        {"unknown-option": "true"},
        None,
        'unknown Topology Manager Policy option: "unknown-option"',
    ),
    (
        "best-effort",
        "pod",
        2,
        {"prefer-closest-numa-nodes": "true"},
        None,
        "cannot discover NUMA topology: error getting NUMA distances from cadvisor",
    ),
    ("strict", "pod", 2, {}, None, 'unknown policy: "strict"'),
    ("restricted", "node", 2, {}, None, 'unknown scope: "node"'),
]


@pytest.mark.parametrize(("policy", "scope", "nodes", "options", "distances", "error"), MANAGER_ERRORS)
def test_new_manager_errors(
    policy: str, scope: str, nodes: int, options: dict, distances: dict | None, error: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        new_manager(policy, scope, list(range(nodes)), distances, options)
    assert exc.value.as_dict() == {
        "stage": "topology_manager",
        "error": error,
        "kubelet_error": f"failed to run Kubelet: {error}",
    }


@pytest.mark.parametrize(
    ("policy", "scope", "ids", "options"),
    [
        ("none", "node", list(range(16)), {"unknown": "x"}),  # none checks nothing
        ("restricted", "pod", [0, 10, 20, 30], {}),  # counts nodes, not ids
        ("best-effort", "container", list(range(64)), {"max-allowable-numa-nodes": "64"}),
        ("single-numa-node", "pod", list(range(9)), {"max-allowable-numa-nodes": "9"}),
    ],
)
def test_new_manager_accepts(policy: str, scope: str, ids: list[int], options: dict) -> None:
    manager = new_manager(policy, scope, ids, None, options)
    assert manager.policy.name == policy
    assert manager.scope == (None if policy == "none" else scope)


# -- the fast merge equals the kubelet's full walk -------------------------------------------------

NODE_IDS = [0, 1, 3, 4]
_masks = st.integers(min_value=1, max_value=(1 << 5) - 1).map(lambda m: m & mask_of(NODE_IDS)).filter(bool)
_hint = st.builds(TopologyHint, st.one_of(st.none(), _masks), st.booleans())
_resource = st.one_of(st.none(), st.lists(_hint, max_size=5))
_provider = st.one_of(
    st.none(), st.dictionaries(st.sampled_from(["memory", "hugepages-2Mi", "cpu"]), _resource, max_size=2)
)


@settings(max_examples=400, deadline=None)
@given(
    providers=st.lists(_provider, max_size=3),
    policy_name=st.sampled_from(["best-effort", "restricted", "single-numa-node"]),
    closest=st.booleans(),
    weights=st.lists(st.integers(min_value=11, max_value=40), min_size=6, max_size=6),
)
def test_fast_merge_equals_permutation_walk(
    providers: list, policy_name: str, closest: bool, weights: list[int]
) -> None:
    pairs = [(a, b) for i, a in enumerate(NODE_IDS) for b in NODE_IDS[i + 1 :]]
    dist: dict[int, dict[int, int]] = {a: {a: 10} for a in NODE_IDS}
    for (a, b), w in zip(pairs, weights, strict=True):
        dist[a][b] = dist[b][a] = w
    info = NUMAInfo(NODE_IDS, dist)
    filtered = filter_providers_hints(providers)
    if policy_name == "single-numa-node":
        filtered = filter_single_numa_hints(filtered)
    merger = HintMerger(info, filtered, policy_name, PolicyOptions(prefer_closest_numa=closest))
    assert merger.merge() == merger.merge_by_walk()


# -- every merge the real kubelet recorded ----------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"


def _hint_map(doc: dict[str, Any] | None) -> dict[str, list[TopologyHint] | None] | None:
    if doc is None:
        return None
    return {
        resource: None if hints is None else [TopologyHint.from_json(h) for h in hints]
        for resource, hints in doc.items()
    }


def _recorded_merges(path: Path) -> list[tuple[str, list, dict, bool]]:
    """(label, providers_hints, merged_hint, merge_admits) for every recorded merge of one file."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    cpu = "cpu-vectors" in path.parts
    merges = []
    for index, step in enumerate(doc.get("steps", [])):
        expect = step.get("expect") or {}
        if step["op"] != "admit" or "panic" in expect:
            continue
        entries = expect.get("container_hints") or [expect]
        for entry in entries:
            if entry.get("merged_hint") is None or "hints_digest" in entry:
                continue
            providers = [_hint_map(entry.get("hints"))]
            if cpu:
                providers.insert(0, _hint_map(entry.get("cpu_hints")))
            label = f"{path.stem}[{index}]{entry.get('container', '')}"
            merges.append((label, providers, entry["merged_hint"], entry["merge_admits"]))
    return merges


def _policy_of(path: Path) -> Policy:
    doc = json.loads(path.read_text(encoding="utf-8"))
    machine, kubelet = doc["machine"], doc["kubelet"]
    ids = [node["id"] for node in machine["numa_nodes"]]
    rows = machine.get("distances")
    distances = None if rows is None else {i: row for i, row in zip(ids, rows, strict=True)}
    return new_policy(
        kubelet.get("topology_manager_policy", "none"),
        ids,
        distances,
        kubelet.get("topology_manager_policy_options") or {},
    )


RECORDED = [
    p
    for folder in ("vectors", "cpu-vectors", "big-numa")
    for p in sorted((EXAMPLES / folder).glob("*.json"))
    if not p.stem.startswith("cfg-")
]


@pytest.mark.parametrize("path", RECORDED, ids=[f"{p.parent.name}/{p.stem}" for p in RECORDED])
def test_merge_equals_recorded_kubelet_merges(path: Path) -> None:
    merges = _recorded_merges(path)
    if not merges:
        pytest.skip("no merge recorded in full (policy none, or digests only)")
    policy = _policy_of(path)
    for label, providers, merged_hint, merge_admits in merges:
        hint, admit = policy.merge(providers)
        assert (hint.to_json(), admit) == (merged_hint, merge_admits), label
