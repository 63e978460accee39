"""Exporters: KubeletConfiguration snippet, --reserved-memory, pods YAML, bug report, checkpoint file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from allocator.checkpoint import decode_checkpoint
from allocator.exporters import (
    bug_report_markdown,
    kubelet_configuration,
    kubelet_configuration_yaml,
    pods_yaml,
    reserved_memory_flag,
)
from allocator.importers import parse_kubelet_configuration, parse_reserved_memory_flag
from allocator.manager import MemoryManager
from allocator.quantities import quantity_from_json
from allocator.scenario import parse_kubelet, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"
VECTORS = sorted((EXAMPLES / "vectors").glob("*.json"))
CONFIG_ERRORS = sorted((EXAMPLES / "config-errors").glob("*.json"))
CHECKPOINT_INDEX = json.loads((EXAMPLES / "checkpoints" / "index.json").read_text())

_MANAGER_FIELDS = (
    "memory_manager_policy",
    "topology_manager_policy",
    "topology_manager_scope",
    "topology_manager_policy_options",
    "reserved_memory",
    "kube_reserved",
    "system_reserved",
    "eviction_hard",
)


def _amount(value: Any) -> Any:
    return quantity_from_json(value, "quantity").value


def _manager_fields(spec: Any) -> dict[str, Any]:
    dumped = spec.model_dump()
    return {key: dumped[key] for key in _MANAGER_FIELDS}


@pytest.mark.parametrize("path", VECTORS[:20] + CONFIG_ERRORS, ids=lambda p: p.stem)
def test_kubelet_configuration_round_trips(path: Path) -> None:
    doc = json.loads(path.read_text())
    try:
        spec = parse_kubelet(doc.get("kubelet") or {})
    except Exception:  # a section the scenario format itself refuses has nothing to export
        pytest.skip("kubelet section is not well-formed")
    text = kubelet_configuration_yaml(spec)
    back = parse_kubelet_configuration(text)
    assert _manager_fields(back) == _manager_fields(spec)
    loaded = yaml.safe_load(text)
    assert (
        loaded["apiVersion"] == "kubelet.config.k8s.io/v1beta1" and loaded["kind"] == "KubeletConfiguration"
    )


@pytest.mark.parametrize("path", CONFIG_ERRORS, ids=lambda p: p.stem)
def test_configuration_matches_the_file_the_kubelet_loaded(path: Path) -> None:
    """The v1beta1 fields we write mean the same quantities as the file the real kubelet loaded."""
    doc = json.loads(path.read_text())
    loaded = doc["expect"]["kubelet_config_file"]
    section = {"memory_manager_policy": "None", **doc["kubelet"]}
    try:
        ours = kubelet_configuration(section)
    except Exception:
        pytest.skip("kubelet section is not well-formed")
    for field in (
        "memoryManagerPolicy",
        "topologyManagerPolicy",
        "topologyManagerPolicyOptions",
        "evictionHard",
    ):
        if field in loaded:
            assert ours[field] == loaded[field]
    for field in ("systemReserved", "kubeReserved"):
        for name, value in loaded.get(field, {}).items():
            if name == "cpu":
                continue  # the scenario keeps whole CPUs only
            assert _amount(ours[field][name]) == _amount(value)
    for ours_entry, loaded_entry in zip(
        ours.get("reservedMemory", []), loaded.get("reservedMemory", []), strict=True
    ):
        assert ours_entry["numaNode"] == loaded_entry["numaNode"]
        assert {k: _amount(v) for k, v in ours_entry["limits"].items()} == {
            k: _amount(v) for k, v in loaded_entry["limits"].items()
        }


def test_reserved_memory_flag_round_trips() -> None:
    kubelet = {
        "reserved_memory": [
            {"numa_node": 0, "limits": {"memory": "1Gi", "hugepages-1Gi": "2Gi"}},
            {"numa_node": 1, "limits": {"memory": 1500000000}},
        ]
    }
    flag = reserved_memory_flag(kubelet)
    assert flag == "0:hugepages-1Gi=2Gi,memory=1Gi;1:memory=1500000000"
    assert parse_reserved_memory_flag(flag) == parse_kubelet(kubelet).reserved_memory


def test_pods_yaml_is_a_multi_document_stream() -> None:
    doc = json.loads(VECTORS[0].read_text())
    pods = [step["pod"] for step in doc["steps"] if step["op"] == "admit"]
    text = pods_yaml(pods)
    assert text.count("---\n") == len(pods)
    assert list(yaml.safe_load_all(text)) == pods


def _replayed(path: Path) -> tuple[dict[str, Any], MemoryManager, list[dict[str, Any]]]:
    doc = json.loads(path.read_text())
    scenario = parse_scenario(doc)
    manager = MemoryManager.from_scenario(scenario)
    return doc, manager, [manager.apply(step).result for step in scenario.steps]


def test_bug_report_has_configuration_topology_pods_and_outcome() -> None:
    path = next(
        p
        for p in VECTORS
        if any(s["op"] == "admit" and not s["expect"]["admitted"] for s in json.loads(p.read_text())["steps"])
    )
    doc, manager, outcomes = _replayed(path)
    pods = [step["pod"] for step in doc["steps"] if step["op"] == "admit"]
    text = bug_report_markdown(
        doc["machine"],
        doc["kubelet"],
        pods,
        outcomes,
        steps=doc["steps"],
        state=manager.state(),
        title=doc["name"],
    )
    for heading in ("#### Configuration", "#### Topology", "#### Pods", "#### Outcome"):
        assert heading in text
    config_block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert (
        parse_kubelet_configuration(config_block).model_dump() == parse_kubelet(doc["kubelet"]).model_dump()
    )
    rejected = next(o for o in outcomes if "admitted" in o and not o["admitted"])
    assert rejected["reason"] in text and rejected["message"] in text
    for node in doc["machine"]["numa_nodes"]:
        assert f"| {node['id']} |" in text
    assert text.count("kind: Pod") == len(pods)


@pytest.mark.parametrize("record", CHECKPOINT_INDEX, ids=lambda r: r["name"])
def test_scenario_export_equals_the_kubelet_file(record: dict[str, Any]) -> None:
    """Replaying the source vector to the file's step gives the kubelet's bytes (blocks in type order)."""
    if not record["blocks_in_type_order"]:
        pytest.skip("the kubelet wrote this file's blocks in random map order")
    doc = json.loads((EXAMPLES / "vectors" / f"{record['source_vector']}.json").read_text())
    scenario = parse_scenario(doc)
    manager = MemoryManager.from_scenario(scenario)
    for step in scenario.steps[: record["source_step"] + 1]:
        manager.apply(step)
    expected = (EXAMPLES / "checkpoints" / record["file"]).read_text()
    assert manager.checkpoint_file() == expected
    assert decode_checkpoint(manager.checkpoint_file()).checksum == record["checksum"]
