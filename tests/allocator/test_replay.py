"""The checker behind ``replay --check``: first differing path, hint digests, reduced blocks."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from allocator.replay import (
    ReplayRun,
    check_run,
    comparable_outcome,
    find_metrics_file,
    first_difference,
    hints_digest,
    replay_document,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"


@pytest.mark.parametrize(
    ("expected", "got", "path"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, None),  # objects are unordered
        ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 3]}}, "a.b[1]"),
        ({"a": {"0": {"free": 5}}}, {"a": {"0": {"free": 4}}}, "a.0.free"),
        ({"a": 1, "b": 2}, {"a": 1}, "b"),  # missing in the outcome
        ({"a": 1}, {"a": 1, "z": 0}, "z"),  # extra in the outcome
        ({"a": [1, 2]}, {"a": [1, 2, 3]}, "a (length)"),
        ({"admitted": True}, {"admitted": 1}, "admitted"),  # JSON true is not 1
        ({"hints": None}, {"hints": {}}, "hints"),  # null and {} hints mean different things
        ({"a": [{"x": 1}, {"x": 2}]}, {"a": [{"x": 9}, {"x": 8}]}, "a[0].x"),  # the first one
        ({'k{a="b"}': 1}, {'k{a="b"}': 2}, '["k{a=\\"b\\"}"]'),
    ],
)
def test_first_difference(expected: Any, got: Any, path: str | None) -> None:
    difference = first_difference(expected, got)
    assert (difference.path if difference else None) == path


def _all_masks_hints(numa_ids: list[int]) -> list[dict[str, Any]]:
    """The hint list of a small request on an empty machine, written independently of the engine:
    every mask in IterateBitMasks order (by size, then lexicographic), single nodes preferred."""
    return [
        {"numa_affinity": list(ids), "preferred": size == 1}
        for size in range(1, len(numa_ids) + 1)
        for ids in itertools.combinations(sorted(numa_ids), size)
    ]


@pytest.mark.parametrize(
    "name",
    ["bn-16-restricted-container.json", "nc-16-nodes-ids-0-7-and-16-23.json", "bn-12-best-effort-pod.json"],
)
def test_hints_digest_matches_the_recorded_digest(name: str) -> None:
    doc = json.loads((EXAMPLES / "big-numa" / name).read_text())
    numa_ids = [node["id"] for node in doc["machine"]["numa_nodes"]]
    recorded = doc["steps"][0]["expect"]["hints_digest"]
    assert hints_digest({"memory": _all_masks_hints(numa_ids)}) == recorded


def test_hints_digest_sees_order_and_preference() -> None:
    hints = _all_masks_hints([0, 1, 2])
    digest = hints_digest({"memory": hints})["memory"]
    assert digest["count"] == 7
    assert digest["preferred"] == hints[:3]
    assert hints_digest({"memory": list(reversed(hints))})["memory"]["sha256"] != digest["sha256"]


def test_full_block_flags_keys_the_expectation_lacks() -> None:
    expect = {"removed": True, "state_after": {}, "numa_groups_after": {}, "checkpoint": {}}
    outcome = {**expect, "surprise": 1}
    difference = first_difference(expect, comparable_outcome(expect, outcome))
    assert difference is not None and difference.path == "surprise" and difference.extra


def test_reduced_block_compares_only_recorded_keys() -> None:
    expect = {"admitted": False, "reason": "UnexpectedAdmissionError", "containers": {"app": []}}
    outcome = {**expect, "message": "anything", "state_after": {"0": {}}, "hints": None}
    assert first_difference(expect, comparable_outcome(expect, outcome)) is None
    wrong = {**outcome, "containers": {"app": [{"numa_affinity": [0], "type": "memory", "size": 1}]}}
    difference = first_difference(expect, comparable_outcome(expect, wrong))
    assert difference is not None and difference.path == "containers.app (length)"


def test_digested_hints_are_compared_through_the_digest() -> None:
    hints = {"memory": _all_masks_hints([0, 1])}
    expect = {
        "hints_digest": hints_digest(hints),
        "container_hints": [{"container": "c", "hints_digest": hints_digest(hints)}],
        "state_after": {},
    }
    outcome = {"hints": hints, "container_hints": [{"container": "c", "hints": hints}], "state_after": {}}
    assert first_difference(expect, comparable_outcome(expect, outcome)) is None
    flipped = {"memory": [{**hint, "preferred": not hint["preferred"]} for hint in hints["memory"]]}
    outcome["container_hints"] = [{"container": "c", "hints": flipped}]
    difference = first_difference(expect, comparable_outcome(expect, outcome))
    assert difference is not None and difference.path.startswith("container_hints[0].hints_digest.memory")


def test_check_run_reports_config_errors_and_short_replays() -> None:
    error = {"stage": "topology_manager", "error": "e", "kubelet_error": "failed to run Kubelet: e"}
    doc = {"name": "x", "config_error": error, "initial_state": None, "steps": [{"op": "admit", "pod": {}}]}
    assert check_run(doc, ReplayRun({"name": "x", "config_error": dict(error)})) == []
    mismatches = check_run(doc, ReplayRun({"name": "x", "steps": []}, {}))
    assert [mismatch.difference.path for mismatch in mismatches] == ["config_error"]

    steps = [{"op": "remove", "pod_uid": "u", "expect": {"removed": False}}] * 2
    mismatches = check_run(
        {"name": "y", "steps": steps}, ReplayRun({"name": "y", "steps": [{"removed": False}]})
    )
    assert [mismatch.step for mismatch in mismatches] == [1]


def test_metrics_file_is_found_in_the_sibling_metrics_folder() -> None:
    vector = EXAMPLES / "vectors" / "gen-000.json"
    assert find_metrics_file(vector, "gen-000") == EXAMPLES / "metrics" / "gen-000.metrics.json"
    assert find_metrics_file(EXAMPLES / "perf" / "perf-long-10000.json", "perf-long-10000") is None


def test_a_pod_without_uid_is_named_by_its_name() -> None:
    """The spec leaves the UID to the caller; replay uses the pod's name, so a remove step can name it."""
    doc = json.loads((EXAMPLES / "vectors" / "mirror-mm-remove-container.json").read_text())
    admit = next(step for step in doc["steps"] if step["op"] == "admit")
    admit["pod"]["metadata"].pop("uid")
    name = admit["pod"]["metadata"]["name"]
    doc["steps"] = [admit, {"op": "remove", "pod_uid": name}, {"op": "remove", "pod_uid": name}]
    outcomes = replay_document(doc)["steps"]
    assert outcomes[0]["admitted"] is True
    assert [outcome["removed"] for outcome in outcomes[1:]] == [True, False]
    assert "uid" not in admit["pod"]["metadata"]  # the caller's document is left as it was
