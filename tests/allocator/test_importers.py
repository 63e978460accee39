"""Importers: KubeletConfiguration YAML, --reserved-memory, numactl, cadvisor and checkpoint files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from allocator.checkpoint import checkpoint_to_dict, checkpoint_to_state, decode_checkpoint
from allocator.errors import InputError
from allocator.importers import (
    import_checkpoint,
    machine_doc_from_cadvisor,
    parse_cadvisor_machine_info,
    parse_kubelet_configuration,
    parse_numactl_hardware,
    parse_reserved_memory_flag,
)
from allocator.manager import MemoryManager
from allocator.scenario import parse_kubelet, parse_machine, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"
CONFIG_ERRORS = sorted((EXAMPLES / "config-errors").glob("*.json"))
CHECKPOINTS = EXAMPLES / "checkpoints"
CHECKPOINT_INDEX = json.loads((CHECKPOINTS / "index.json").read_text())

GiB = 1 << 30
MiB = 1 << 20


# -- KubeletConfiguration ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIG_ERRORS, ids=lambda p: p.stem)
def test_kubelet_config_file_imports_like_the_scenario_section(path: Path) -> None:
    """Each config-errors case records its ``kubelet`` section and the v1beta1 file the kubelet loaded."""
    doc = json.loads(path.read_text())
    text = yaml.safe_dump(doc["expect"]["kubelet_config_file"])
    section = {"memory_manager_policy": "None", **doc["kubelet"]}  # absent -> the v1beta1 default
    try:
        expected: Any = parse_kubelet(section).model_dump()
    except InputError as err:
        with pytest.raises(InputError) as got:
            parse_kubelet_configuration(text)
        assert got.value.message.startswith(err.message)
        return
    assert parse_kubelet_configuration(text).model_dump() == expected


def test_v1beta1_defaults_apply_to_absent_fields() -> None:
    spec = parse_kubelet_configuration(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
    )
    assert spec.memory_manager_policy == "None"
    assert spec.topology_manager_policy == "none" and spec.topology_manager_scope == "container"
    assert spec.reserved_memory == []


def test_full_configuration() -> None:
    text = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
memoryManagerPolicy: Static
reservedMemory:
  - numaNode: 0
    limits:
      memory: 1Gi
      hugepages-1Gi: 2Gi
  - numaNode: 1
    limits: {memory: 1100Mi}
topologyManagerPolicy: single-numa-node
topologyManagerScope: pod
topologyManagerPolicyOptions:
  prefer-closest-numa-nodes: "true"
kubeReserved: {cpu: "1", memory: 500Mi}
systemReserved: {memory: 1Gi}
evictionHard: {memory.available: 100Mi}
"""
    spec = parse_kubelet_configuration(text)
    assert spec.memory_manager_policy == "Static"
    assert [(r.numa_node, r.limits) for r in spec.reserved_memory] == [
        (0, {"memory": GiB, "hugepages-1Gi": 2 * GiB}),
        (1, {"memory": 1100 * MiB}),
    ]
    assert spec.topology_manager_policy == "single-numa-node" and spec.topology_manager_scope == "pod"
    assert spec.topology_manager_policy_options == {"prefer-closest-numa-nodes": "true"}
    assert spec.kube_reserved == {"cpu": 1, "memory": 500 * MiB}
    assert spec.system_reserved == {"memory": GiB}
    assert spec.eviction_hard == {"memory.available": "100Mi"}


@pytest.mark.parametrize(
    ("text", "path", "message_part"),
    [
        (
            "reservedMemory:\n  - numaNode: 0\n    limits:\n      memory: 1Gx\n",
            "reservedMemory[0].limits.memory",
            "(line 4)",
        ),
        (
            "reservedMemory:\n  - numaNode: zero\n    limits: {memory: 1Gi}\n",
            "reservedMemory[0].numaNode",
            "(line 2)",
        ),
        ("reservedMemory:\n  - numa: 0\n", "reservedMemory[0].numa", "unknown field"),
        ("kind: Pod\n", "kind", "expected KubeletConfiguration"),
        ("apiVersion: v1\n", "apiVersion", "kubelet.config.k8s.io"),
        ("topologyManagerPolicy: [a]\n", "topologyManagerPolicy", "(line 1)"),
        ("memoryManagerPolicy: Static\nreservedMemory: {\n", "line 3", "not valid YAML"),
        ("- just a list\n", "", "mapping"),
    ],
)
def test_configuration_errors_name_field_and_line(text: str, path: str, message_part: str) -> None:
    with pytest.raises(InputError) as err:
        parse_kubelet_configuration(text)
    assert err.value.path == path
    assert message_part in err.value.message


# -- --reserved-memory ------------------------------------------------------------------------------------


def test_reserved_memory_flag() -> None:
    entries = parse_reserved_memory_flag("0:memory=1Gi,hugepages-1Gi=2Gi;1:memory=1Gi")
    assert [(e.numa_node, e.limits) for e in entries] == [
        (0, {"memory": GiB, "hugepages-1Gi": 2 * GiB}),
        (1, {"memory": GiB}),
    ]
    repeated = parse_reserved_memory_flag(
        ["--reserved-memory=0:memory=1Gi", "--reserved-memory 1:memory=2Gi"]
    )
    assert [(e.numa_node, e.limits) for e in repeated] == [(0, {"memory": GiB}), (1, {"memory": 2 * GiB})]
    assert parse_reserved_memory_flag("") == []


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        (
            "0memory=1Gi",
            "--reserved-memory[0]",
            "the reserved memory has incorrect format, expected numaNodeID:type=quantity[,type=quantity...], "
            "got 0memory=1Gi",
        ),
        (
            "0:memory=1Gi;x:memory=1Gi",
            "--reserved-memory[1]",
            "failed to convert the NUMA node ID, exptected integer, got x",
        ),
        (
            "0:memory",
            "--reserved-memory[0]",
            "the reserved limit has incorrect value, expected type=quantatity, got memory",
        ),
        ("0:cpu=1", "--reserved-memory[0]", 'memory type conversion error, unknown type: "cpu"'),
        (
            "0:memory=lots",
            "--reserved-memory[0].memory",
            "failed to parse the quantatity, expected quantatity, got lots",
        ),
    ],
)
def test_reserved_memory_flag_errors_use_kubelet_texts(value: str, path: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_reserved_memory_flag(value)
    assert (err.value.path, err.value.message) == (path, message)


# -- numactl --hardware -----------------------------------------------------------------------------------

NUMACTL = """\
available: 2 nodes (0-1)
node 0 cpus: 0 1 2 3 8 9 10 11
node 0 size: 32093 MB
node 0 free: 30512 MB
node 1 cpus: 4 5 6 7 12 13 14 15
node 1 size: 32253 MB
node 1 free: 31000 MB
node distances:
node   0   1
  0:  10  21
  1:  21  10
"""


def test_numactl_two_nodes() -> None:
    machine = parse_numactl_hardware(NUMACTL)
    assert [(n.id, n.memory, n.hugepages) for n in machine.numa_nodes] == [
        (0, 32093 * MiB, {}),
        (1, 32253 * MiB, {}),
    ]
    assert machine.distances == {0: {0: 10, 1: 21}, 1: {0: 21, 1: 10}}


def test_numactl_without_distances_and_memoryless_node() -> None:
    text = "available: 2 nodes (0-1)\nnode 0 size: 1024 MB\nnode 1 cpus: 4\nnode 1 size: 0 MB\n"
    machine = parse_numactl_hardware(text)
    assert [(n.id, n.memory) for n in machine.numa_nodes] == [(0, GiB), (1, 0)]
    assert machine.distances is None


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (NUMACTL.replace("node 1 size: 32253 MB", "node 1 size: lots"), "line 6"),
        (NUMACTL.replace("  1:  21  10", "  1:  21"), "line 11"),
        (NUMACTL.replace("available: 2 nodes", "available: 3 nodes"), "line 1"),
        ("hello world\n", "line 1"),
        ("", ""),
    ],
)
def test_numactl_errors_name_the_line(text: str, path: str) -> None:
    with pytest.raises(InputError) as err:
        parse_numactl_hardware(text)
    assert err.value.path == path


# -- cadvisor MachineInfo -----------------------------------------------------------------------------------

CADVISOR = {
    "num_cores": 16,
    "memory_capacity": 68719476736,
    "topology": [
        {
            "node_id": 0,
            "memory": 34359738368,
            "hugepages": [{"page_size": 1048576, "num_pages": 4}, {"page_size": 2048, "num_pages": 0}],
            "cores": [],
            "distances": [10, 21],
        },
        {
            "node_id": 1,
            "memory": 34359738368,
            "hugepages": [{"page_size": 1048576, "num_pages": 0}, {"page_size": 2048, "num_pages": 512}],
            "cores": [],
            "distances": [21, 10],
        },
    ],
}


def test_cadvisor_machine_info() -> None:
    machine = parse_cadvisor_machine_info(json.dumps(CADVISOR))
    assert [(n.id, n.memory, n.hugepages) for n in machine.numa_nodes] == [
        (0, 32 * GiB, {"hugepages-1Gi": 4 * GiB, "hugepages-2Mi": 0}),
        (1, 32 * GiB, {"hugepages-1Gi": 0, "hugepages-2Mi": GiB}),
    ]
    assert machine.distances == {0: {0: 10, 1: 21}, 1: {0: 21, 1: 10}}
    # The machine document replays: the engine sees empty pools as zero tables.
    doc = {
        "name": "c",
        "machine": machine_doc_from_cadvisor(CADVISOR),
        "kubelet": {"reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}]},
    }
    state = MemoryManager.from_scenario(parse_scenario(doc)).initial_state()
    assert state["0"]["hugepages-2Mi"]["total"] == 0
    assert state["1"]["hugepages-2Mi"]["total"] == GiB


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["topology"][1].pop("memory"), "topology[1].memory"),
        (
            lambda d: d["topology"][0]["hugepages"][0].update(page_size="1G"),
            "topology[0].hugepages[0].page_size",
        ),
        (lambda d: d["topology"][1].update(node_id=0), "topology[1].node_id"),
        (lambda d: d.pop("topology"), "topology"),
    ],
)
def test_cadvisor_errors_name_the_field(mutate, path: str) -> None:
    doc = json.loads(json.dumps(CADVISOR))
    mutate(doc)
    with pytest.raises(InputError) as err:
        parse_cadvisor_machine_info(doc)
    assert err.value.path == path


def test_cadvisor_invalid_json_names_the_line() -> None:
    with pytest.raises(InputError) as err:
        parse_cadvisor_machine_info('{\n"topology": [\n')
    assert err.value.path.startswith("line ")


# -- memory_manager_state ------------------------------------------------------------------------------------


def _replay(doc: dict[str, Any]) -> list[dict[str, Any]]:
    scenario = parse_scenario(doc)
    manager = MemoryManager.from_scenario(scenario)
    return [manager.apply(step).result for step in scenario.steps]


@pytest.mark.parametrize("record", CHECKPOINT_INDEX, ids=lambda r: r["name"])
def test_checkpoint_import_replays_to_the_file_state(record: dict[str, Any]) -> None:
    text = (CHECKPOINTS / record["file"]).read_text()
    cp = decode_checkpoint(text)
    imported = import_checkpoint(text)
    assert imported.checksum_status == "valid" and imported.error is None and not imported.problems
    assert imported.checksum == record["checksum"] == imported.expected_checksum
    assert len(imported.pods) == len(cp.entries or {})
    scenario = parse_scenario(imported.scenario)
    manager = MemoryManager.from_scenario(scenario)
    last = [manager.apply(step).result for step in scenario.steps][-1]
    assert last["started"] is True, last["error"]
    assert last["state_after"] == checkpoint_to_state(cp)
    assert last["checkpoint"] == checkpoint_to_dict(cp)
    # The imported scenario exports the very file it came from, block order included.
    assert manager.checkpoint_file() == text


@pytest.mark.parametrize("record", CHECKPOINT_INDEX[:6], ids=lambda r: r["name"])
def test_checkpoint_import_with_the_source_machine(record: dict[str, Any]) -> None:
    vector = json.loads((EXAMPLES / "vectors" / f"{record['source_vector']}.json").read_text())
    text = (CHECKPOINTS / record["file"]).read_text()
    imported = import_checkpoint(text, machine=vector["machine"], kubelet=vector["kubelet"])
    assert imported.inferred == []
    assert imported.scenario["machine"] == vector["machine"]
    last = _replay(imported.scenario)[-1]
    assert last["started"] is True
    assert last["state_after"] == checkpoint_to_state(decode_checkpoint(text))


def test_checkpoint_import_reports_problems() -> None:
    record = next(r for r in CHECKPOINT_INDEX if r["containers"] > 0)
    doc = json.loads((CHECKPOINTS / record["file"]).read_text())
    doc["checksum"] ^= 1
    imported = import_checkpoint(json.dumps(doc))
    assert imported.checksum_status == "corrupt"
    assert imported.report()["kubelet_would_start"] is False
    assert "checkpoint is corrupted" in imported.error
    assert _replay(imported.scenario)[-1]["started"] is False

    doc["checksum"] = 0
    none_kubelet = {"memory_manager_policy": "None"}
    imported = import_checkpoint(json.dumps(doc), kubelet=none_kubelet)
    assert imported.checksum_status == "unchecked-zero"
    assert 'configured policy "None" differs from state checkpoint policy "Static"' in imported.error


def test_checkpoint_import_rejects_undecodable_files() -> None:
    with pytest.raises(InputError) as err:
        import_checkpoint('{"policyName":"Static","machineState":{"0":')
    assert (err.value.path, err.value.message) == ("checkpoint", "unexpected end of JSON input")


def test_checkpoint_import_machine_mismatch_is_reported() -> None:
    record = next(r for r in CHECKPOINT_INDEX if r["numa_nodes"] == 4 and r["containers"] > 0)
    text = (CHECKPOINTS / record["file"]).read_text()
    vector = json.loads((EXAMPLES / "vectors" / f"{record['source_vector']}.json").read_text())
    machine = json.loads(json.dumps(vector["machine"]))
    machine["numa_nodes"] = machine["numa_nodes"][:3]
    kubelet = json.loads(json.dumps(vector["kubelet"]))
    kubelet["reserved_memory"] = [r for r in kubelet["reserved_memory"] if r["numa_node"] < 3]
    imported = import_checkpoint(text, machine=machine, kubelet=kubelet)
    assert any("NUMA node 3" in p for p in imported.problems)
    assert imported.error is not None and imported.error.startswith("[memorymanager]")
    last = _replay(imported.scenario)[-1]
    assert last["started"] is False and last["error"] == imported.error
    parse_machine(imported.scenario["machine"])
