"""Parsing scenario documents: normalisation to bytes, and InputError paths for malformed input."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from allocator.errors import InputError
from allocator.scenario import parse_kubelet, parse_machine, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"
GIB = 1 << 30

BASE: dict[str, Any] = {
    "name": "two-socket-hugepages",
    "machine": {
        "numa_nodes": [
            {"id": 0, "memory": "64Gi", "hugepages-2Mi": "0", "hugepages-1Gi": "8Gi"},
            {"id": 1, "memory": 68719476736, "hugepages-1Gi": "8Gi"},
        ],
        "distances": [[10, 21], [21, 10]],
    },
    "kubelet": {
        "topology_manager_policy": "single-numa-node",
        "topology_manager_policy_options": {"prefer-closest-numa-nodes": "true"},
        "reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}],
    },
    "steps": [
        {
            "op": "admit",
            "pod": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "db", "uid": "db-1"},
                "spec": {
                    "containers": [
                        {
                            "name": "postgres",
                            "resources": {
                                "requests": {"cpu": "2", "memory": "4Gi", "hugepages-1Gi": "2Gi"},
                                "limits": {"cpu": "2", "memory": "4Gi", "hugepages-1Gi": "2Gi"},
                            },
                        }
                    ]
                },
            },
        },
        {"op": "remove", "pod_uid": "db-1"},
    ],
}


def test_the_spec_example_is_normalised_to_bytes() -> None:
    scenario = parse_scenario(BASE)
    node0, node1 = scenario.machine.numa_nodes
    assert (node0.id, node0.memory, node0.hugepages) == (
        0,
        64 * GIB,
        {"hugepages-2Mi": 0, "hugepages-1Gi": 8 * GIB},
    )
    # An absent hugepage key is no pool at all, not an empty one.
    assert node1.hugepages == {"hugepages-1Gi": 8 * GIB}
    assert scenario.machine.distances == {0: {0: 10, 1: 21}, 1: {0: 21, 1: 10}}
    assert scenario.kubelet.reserved_memory[0].limits == {"memory": GIB}
    assert scenario.kubelet.memory_manager_policy == "Static"  # the defaults of the spec
    assert scenario.kubelet.topology_manager_scope == "container"
    assert [step["op"] for step in scenario.steps] == ["admit", "remove"]


def test_kubelet_defaults() -> None:
    kubelet = parse_kubelet({})
    assert (kubelet.memory_manager_policy, kubelet.topology_manager_policy) == ("Static", "none")
    assert (kubelet.topology_manager_scope, kubelet.reserved_memory) == ("container", [])


def test_distance_rows_keep_their_index_as_the_target_id() -> None:
    """Rows are indexed by NUMA id; a row written by position keeps its positions (big-numa README)."""
    machine = {
        "numa_nodes": [{"id": i, "memory": "1Gi"} for i in (0, 2)],
        "distances": [[10, 20], [20, 10]],
    }
    assert parse_machine(machine).distances == {0: {0: 10, 1: 20}, 2: {0: 20, 1: 10}}
    machine["distances"] = [[10, 0, 20], [20, 0, 10]]
    assert parse_machine(machine).distances == {0: {0: 10, 1: 0, 2: 20}, 2: {0: 20, 1: 0, 2: 10}}


def _edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["steps"][0]["pod"]["spec"]["containers"][0]


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "bad memory quantity",
        lambda d: d["machine"]["numa_nodes"][1].update(memory="64Gx"),
        "machine.numa_nodes[1].memory",
    ),
    (
        "negative memory",
        lambda d: d["machine"]["numa_nodes"][0].update(memory="-1Gi"),
        "machine.numa_nodes[0].memory",
    ),
    ("memory missing", lambda d: d["machine"]["numa_nodes"][0].pop("memory"), "machine.numa_nodes[0].memory"),
    ("id not integer", lambda d: d["machine"]["numa_nodes"][1].update(id="1"), "machine.numa_nodes[1].id"),
    ("duplicate id", lambda d: d["machine"]["numa_nodes"][1].update(id=0), "machine.numa_nodes[1].id"),
    (
        "hugepages bad",
        lambda d: d["machine"]["numa_nodes"][0].update({"hugepages-1Gi": []}),
        "machine.numa_nodes[0].hugepages-1Gi",
    ),
    ("numa_nodes not list", lambda d: d["machine"].update(numa_nodes={}), "machine.numa_nodes"),
    ("no numa nodes", lambda d: d["machine"].update(numa_nodes=[]), "machine.numa_nodes"),
    ("machine missing", lambda d: d.pop("machine"), "machine"),
    ("distance row count", lambda d: d["machine"].update(distances=[[10, 21]]), "machine.distances"),
    (
        "distance not int",
        lambda d: d["machine"]["distances"][1].__setitem__(0, "x"),
        "machine.distances[1][0]",
    ),
    (
        "policy not string",
        lambda d: d["kubelet"].update(topology_manager_policy=3),
        "kubelet.topology_manager_policy",
    ),
    (
        "option not string",
        lambda d: d["kubelet"]["topology_manager_policy_options"].update({"x": [1]}),
        "kubelet.topology_manager_policy_options.x",
    ),
    (
        "reserved quantity",
        lambda d: d["kubelet"]["reserved_memory"][0]["limits"].update(memory="lots"),
        "kubelet.reserved_memory[0].limits.memory",
    ),
    (
        "reserved node missing",
        lambda d: d["kubelet"]["reserved_memory"][0].pop("numa_node"),
        "kubelet.reserved_memory[0].numa_node",
    ),
    ("steps not list", lambda d: d.update(steps={}), "steps"),
    ("unknown op", lambda d: d["steps"][1].update(op="delete"), "steps[1].op"),
    ("remove without uid", lambda d: d["steps"][1].pop("pod_uid"), "steps[1].pod_uid"),
    ("admit without pod", lambda d: d["steps"][0].pop("pod"), "steps[0].pod"),
    (
        "pod limit quantity",
        lambda d: _container(d)["resources"]["limits"].update(memory="4Gx"),
        "steps[0].pod.spec.containers[0].resources.limits.memory",
    ),
    ("pod not object", lambda d: d["steps"][0].update(pod=[]), "steps[0].pod"),
    (
        "restart machine",
        lambda d: d["steps"].append(
            {"op": "restart", "changes": {"machine": {"numa_nodes": [{"id": 0, "memory": "x"}]}}}
        ),
        "steps[2].changes.machine.numa_nodes[0].memory",
    ),
    ("name not string", lambda d: d.update(name=5), "name"),
]


@pytest.mark.parametrize(("change", "path"), [pytest.param(c, p, id=i) for i, c, p in MALFORMED])
def test_malformed_input_names_its_path(change: Callable[[dict[str, Any]], None], path: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_scenario(_edit(change))
    assert caught.value.path == path
    assert caught.value.message


def test_a_refused_configuration_is_not_an_input_error() -> None:
    """Unknown policies, reservations on missing nodes: the kubelet refuses them, the parser does not."""
    doc = _edit(lambda d: d["kubelet"].update(topology_manager_policy="singel-numa-node"))
    doc["kubelet"]["reserved_memory"].append({"numa_node": 7, "limits": {"memory": "1Gi"}})
    scenario = parse_scenario(doc)
    assert scenario.kubelet.topology_manager_policy == "singel-numa-node"
    assert [entry.numa_node for entry in scenario.kubelet.reserved_memory] == [0, 7]


def test_negative_system_reserved_parses_for_the_kubelet_to_refuse() -> None:
    kubelet = parse_kubelet({"system_reserved": {"memory": "-512Mi", "cpu": "500m"}})
    assert kubelet.system_reserved == {"memory": -512 * (1 << 20), "cpu": 1}


def _example_files() -> list[Path]:
    folders = ("vectors", "big-numa", "perf", "restart", "config-errors")
    return sorted(path for folder in folders for path in (EXAMPLES / folder).glob("*.json"))


@pytest.mark.parametrize("path", [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in _example_files()])
def test_every_example_document_parses(path: Path) -> None:
    doc = json.loads(path.read_text())
    scenario = parse_scenario(doc)
    assert [node.id for node in scenario.machine.numa_nodes] == [
        node["id"] for node in doc["machine"]["numa_nodes"]
    ]
    assert len(scenario.steps) == len(doc.get("steps") or [])
