"""Kubelet restarts through the engine: every restart vector, plus the loader and validateState cases."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from allocator.checkpoint import decode_checkpoint, marshal_checkpoint, restore_error
from allocator.manager import MemoryManager
from allocator.restart import NIL_POINTER_PANIC, checkpoint_view
from allocator.scenario import parse_scenario

RESTART_DIR = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples" / "restart"
RESTART_FILES = sorted(RESTART_DIR.glob("*.json"))
RESTART_KEYS = {"started", "stage", "error", "state_after", "numa_groups_after", "checkpoint"}
DRAIN = "please drain this node and delete the memory manager checkpoint file"


def _replay(doc: dict[str, Any]) -> tuple[MemoryManager, list[dict[str, Any]]]:
    scenario = parse_scenario(doc)
    manager = MemoryManager.from_scenario(scenario)
    return manager, [manager.apply(step).result for step in scenario.steps]


@pytest.mark.parametrize("path", RESTART_FILES, ids=lambda p: p.stem)
def test_restart_vector_replays_exactly(path: Path) -> None:
    doc = json.loads(path.read_text())
    manager = MemoryManager.from_scenario(parse_scenario(doc))
    assert manager.initial_state() == doc["initial_state"]
    for index, step in enumerate(doc["steps"]):
        result = manager.apply(step).result
        expect = step["expect"]
        assert set(result) == set(expect), f"step {index}: keys"
        for key in expect:
            assert result[key] == expect[key], f"step {index} ({step['op']}): {key}"
        if step["op"] == "restart" and not expect["started"]:
            assert index == len(doc["steps"]) - 1  # a failed restart ends the kubelet


def test_restart_vectors_cover_pass_and_fail() -> None:
    outcomes = []
    for path in RESTART_FILES:
        for step in json.loads(path.read_text())["steps"]:
            if step["op"] == "restart":
                outcomes.append(step["expect"]["stage"])
    assert "" in outcomes and "memory_manager_start" in outcomes
    assert {"topology_manager_new", "memory_manager_new"} <= set(outcomes)


# -- synthetic cases on top of one vector's running pods ----------------------------------------------------

BASE = json.loads((RESTART_DIR / "rs-pass-pod-gone-while-down.json").read_text())


def _running() -> dict[str, Any]:
    """The base vector's first two admissions (two pods running), without any restart."""
    doc = copy.deepcopy(BASE)
    doc["steps"] = [s for s in doc["steps"] if s["op"] == "admit"][:2]
    return doc


def _restart_with(changes: dict[str, Any]) -> dict[str, Any]:
    doc = _running()
    doc["steps"].append({"op": "restart", "changes": changes})
    return _replay(doc)[1][-1]


def _file_of_running() -> str:
    manager, _ = _replay(_running())
    return manager.checkpoint_file()


def _resigned(edit) -> str:
    doc = json.loads(_file_of_running())
    edit(doc)
    doc["checksum"] = 0
    return marshal_checkpoint(decode_checkpoint(json.dumps(doc)))


def test_plain_restart_keeps_state_and_file() -> None:
    manager, _ = _replay(_running())
    before = (manager.state(), manager.numa_groups(), manager.checkpoint())
    result = manager.apply({"op": "restart"}).result
    assert set(result) == RESTART_KEYS
    assert result["started"] is True and result["stage"] == "" and result["error"] == ""
    assert (result["state_after"], result["numa_groups_after"], result["checkpoint"]) == before


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("garbage", "garbage", "invalid character 'g' looking for beginning of value"),
        ("empty", "", "unexpected end of JSON input"),
        (
            "null",
            "null",
            '[memorymanager] configured policy "Static" differs from state checkpoint policy ""',
        ),
    ],
)
def test_unreadable_files_fail_with_the_loader_text(name: str, text: str, error: str) -> None:
    result = _restart_with({"checkpoint_file": text})
    full = restore_error(error)
    assert result == {
        "started": False,
        "stage": "memory_manager_start",
        "error": full,
        "container_manager_error": "start memory manager error: " + full,
        "state_after": None,
        "numa_groups_after": None,
        "checkpoint": None,
    }
    assert DRAIN in full


def test_flipped_checksum_is_corrupt_and_file_is_reported_unchanged() -> None:
    text = _file_of_running()
    doc = json.loads(text)
    flipped = text.replace(f'"checksum":{doc["checksum"]}', f'"checksum":{doc["checksum"] ^ 1}')
    result = _restart_with({"checkpoint_file": flipped})
    assert result["error"] == restore_error("checkpoint is corrupted")
    assert result["checkpoint"] == checkpoint_view(text)


def test_checksum_zero_pretty_and_unknown_fields_start() -> None:
    doc = json.loads(_file_of_running())
    zero = json.dumps({**doc, "checksum": 0})
    pretty = json.dumps(doc, indent=4)
    unknown = json.dumps({**doc, "futureField": {"a": 1}})
    for text in (zero, pretty, unknown):
        result = _restart_with({"checkpoint_file": text})
        assert result["started"] is True, result["error"]
        assert result["checkpoint"] == checkpoint_view(text)
    assert _restart_with({"checkpoint_file": unknown})["checkpoint"]["futureField"] == {"a": 1}


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda d: d.update(policyName="static"), None),
        (
            lambda d: d.update(machineState={}),
            "[memorymanager] machine state can not be empty when it has memory assignments",
        ),
        (
            lambda d: d["entries"]["uid-p1"]["c0"][0].update(
                size=d["entries"]["uid-p1"]["c0"][0]["size"] + 4096
            ),
            "[memorymanager] the expected machine state is different from the real one",
        ),
        (
            lambda d: d["entries"].pop("uid-p2"),
            "[memorymanager] the expected machine state is different from the real one",
        ),
        (
            lambda d: d["entries"]["uid-p2"]["c1"][0].update(numaAffinity=[7]),
            "[memorymanager] (pod: uid-p2, container: c1) "
            "the memory assignment uses the NUMA that does not exist",
        ),
        (
            lambda d: d["entries"]["uid-p2"]["c1"][0].update(type="hugepages-16Gi"),
            "[memorymanager] (pod: uid-p2, container: c1) "
            "the memory assignment uses memory resource that does not exist",
        ),
    ],
    ids=["policy-case", "empty-machine-state", "size", "pod-dropped", "numa-missing", "type-missing"],
)
def test_resigned_edits_fail_validation(edit, error: str | None) -> None:
    result = _restart_with({"checkpoint_file": _resigned(edit)})
    expected = error or restore_error(
        '[memorymanager] configured policy "Static" differs from state checkpoint policy "static"'
    )
    assert result["started"] is False
    assert result["error"] == expected
    assert result["container_manager_error"] == "start memory manager error: " + expected


def test_empty_machine_state_without_entries_starts_from_the_default_and_rewrites_the_file() -> None:
    manager, _ = _replay(_running())
    default = MemoryManager.from_scenario(parse_scenario(_running())).initial_state()
    text = marshal_checkpoint(decode_checkpoint('{"policyName":"Static","machineState":{},"checksum":0}'))
    result = manager.apply({"op": "restart", "changes": {"checkpoint_file": text}}).result
    assert result["started"] is True
    assert result["state_after"] == default
    assert result["checkpoint"]["machineState"]  # rewritten with the default machine state


def test_memory_drift_even_without_pods() -> None:
    doc = copy.deepcopy(BASE)
    machine = copy.deepcopy(doc["machine"])
    machine["numa_nodes"][1]["memory"] -= 4096
    doc["steps"] = [{"op": "restart", "changes": {"machine": machine}}]
    result = _replay(doc)[1][-1]
    assert result["stage"] == "memory_manager_start"
    assert result["error"] == "[memorymanager] the expected machine state is different from the real one"


def test_deleting_the_checkpoint_forgets_running_pods() -> None:
    result = _restart_with({"delete_checkpoint": True})
    fresh = MemoryManager.from_scenario(parse_scenario(_running()))
    assert result["started"] is True
    assert result["state_after"] == fresh.initial_state()
    assert "entries" not in result["checkpoint"]


def test_nil_table_in_a_file_panics() -> None:
    def null_table(doc: dict[str, Any]) -> None:
        doc["machineState"]["1"]["memoryMap"]["memory"] = None

    result = _restart_with({"checkpoint_file": _resigned(null_table)})
    assert result["panic"] is True and result["error"] == NIL_POINTER_PANIC
    assert "container_manager_error" not in result


def test_group_with_mixed_hugepage_tables_panics() -> None:
    pod = {
        "metadata": {"name": "p", "uid": "u"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "resources": {
                        "requests": {"cpu": "1", "memory": "10Gi"},
                        "limits": {"cpu": "1", "memory": "10Gi"},
                    },
                }
            ]
        },
    }
    doc = {
        "name": "mixed",
        "machine": {
            "numa_nodes": [{"id": 0, "memory": "8Gi", "hugepages-2Mi": "1Gi"}, {"id": 1, "memory": "8Gi"}]
        },
        "kubelet": {
            "topology_manager_policy": "best-effort",
            "reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}],
        },
        "steps": [{"op": "admit", "pod": pod}, {"op": "restart"}],
    }
    admitted, restarted = _replay(doc)[1]
    assert admitted["containers"]["c"][0]["numa_affinity"] == [0, 1]
    assert restarted["panic"] is True and restarted["started"] is False


def test_none_policy_fresh_then_back_to_static() -> None:
    doc = _running()
    doc["steps"] += [
        {"op": "restart", "changes": {"memory_manager_policy": "None", "delete_checkpoint": True}},
        {"op": "restart", "changes": {"memory_manager_policy": "Static"}},
    ]
    none_start, static_start = _replay(doc)[1][-2:]
    assert none_start["started"] is True
    assert none_start["checkpoint"] == {"policyName": "None", "machineState": {}}
    assert static_start["error"] == restore_error(
        '[memorymanager] configured policy "Static" differs from state checkpoint policy "None"'
    )


def test_vanished_pod_blocks_are_kept_until_the_next_admission() -> None:
    manager, _ = _replay(_running())
    before = manager.assignments()
    result = manager.apply({"op": "restart", "changes": {"active_pods": ["uid-p1"]}}).result
    assert result["started"] is True
    assert manager.assignments() == before
    admit = copy.deepcopy(next(s for s in BASE["steps"] if s["op"] == "admit"))
    manager.apply(admit)
    assert set(manager.assignments()) == {"uid-p1"}


def test_restart_changes_persist() -> None:
    doc = _running()
    doc["steps"] += [{"op": "restart", "changes": {"topology_manager_scope": "pod"}}, {"op": "restart"}]
    manager, results = _replay(doc)
    assert all(r["started"] for r in results[-2:])
    assert manager.kubelet.topology_manager_scope == "pod"


def test_a_kept_file_is_reported_until_the_state_changes() -> None:
    """After a restart the file stays as it was (unknown fields too) until the kubelet next writes it."""
    doc = json.loads(_file_of_running())
    unknown = json.dumps({**doc, "futureField": True})
    admits = [s for s in BASE["steps"] if s["op"] == "admit"]
    run = _running()
    run["steps"] += [
        {"op": "restart", "changes": {"checkpoint_file": unknown}},
        copy.deepcopy(admits[0]),  # re-admission of a running pod: blocks exist, nothing is written
        copy.deepcopy(admits[2]),  # a new pod: Allocate writes the file
    ]
    restarted, readmitted, new_pod = _replay(run)[1][-3:]
    assert restarted["checkpoint"]["futureField"] is True
    assert readmitted["admitted"] is True and readmitted["checkpoint"]["futureField"] is True
    assert new_pod["admitted"] is True and "futureField" not in new_pod["checkpoint"]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ("x", "changes"),
        ({"checkpoint_file": 5}, "changes.checkpoint_file"),
        ({"active_pods": "uid-p1"}, "changes.active_pods"),
    ],
)
def test_malformed_changes_are_input_errors(changes: Any, path: str) -> None:
    from allocator.errors import InputError

    manager, _ = _replay(_running())
    with pytest.raises(InputError) as err:
        manager.apply({"op": "restart", "changes": changes})
    assert err.value.path == path
