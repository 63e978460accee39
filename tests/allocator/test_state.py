"""The Memory Manager state: default machine state, JSON views (vectors and checkpoint shapes), caches."""

from __future__ import annotations

from allocator.memory_policy import StaticPolicy
from allocator.state import Block, MemoryState, MemoryTable, NUMANodeState, blocks_to_json

GI = 1 << 30
MI = 1 << 20


def _policy() -> StaticPolicy:
    # TestStaticPolicyStart "should fill the state with default values": 3Gi, one 1Gi page, 512Mi reserved.
    return StaticPolicy([(0, 3 * GI, {"hugepages-1Gi": GI})], {0: {"memory": 512 * MI}})


def test_default_machine_state_subtracts_hugepages_from_regular_memory() -> None:
    state = MemoryState({})
    _policy().start(state)
    assert state.state_json() == {
        "0": {
            "hugepages-1Gi": {
                "total": GI,
                "system_reserved": 0,
                "allocatable": GI,
                "reserved": 0,
                "free": GI,
            },
            "memory": {
                "total": 3 * GI,
                "system_reserved": 512 * MI,
                "allocatable": 1536 * MI,
                "reserved": 0,
                "free": 1536 * MI,
            },
        }
    }
    assert state.numa_groups_json() == {"0": {"cells": [0], "number_of_assignments": 0}}


def test_checkpoint_omits_entries_when_empty_and_uses_camel_case() -> None:
    state = MemoryState({})
    _policy().start(state)
    doc = state.checkpoint_json("Static")
    assert set(doc) == {"policyName", "machineState"}
    assert doc["machineState"]["0"]["memoryMap"]["memory"]["systemReserved"] == 512 * MI
    state.set_memory_blocks("pod", "c", [Block([0], "memory", GI), Block([0], "hugepages-1Gi", GI)])
    entries = state.checkpoint_json("Static")["entries"]
    # Blocks sorted by type, like the vectors (Go map order is random).
    assert entries == {
        "pod": {
            "c": [
                {"numaAffinity": [0], "type": "hugepages-1Gi", "size": GI},
                {"numaAffinity": [0], "type": "memory", "size": GI},
            ]
        }
    }


def test_delete_drops_the_pod_with_its_last_container() -> None:
    state = MemoryState({0: NUMANodeState({"memory": MemoryTable(1, 0, 1, 0, 1)}, [0])})
    state.set_memory_blocks("pod", "a", [Block([0], "memory", 1)])
    state.set_memory_blocks("pod", "b", [Block([0], "memory", 1)])
    state.delete("pod", "a")
    assert state.get_memory_blocks("pod", "a") is None
    assert state.get_memory_blocks("pod", "b") is not None
    state.delete("pod", "b")
    assert state.assignments == {}
    state.delete("nobody", "x")  # idempotent like the kubelet's Delete


def test_views_follow_changes_after_touch() -> None:
    state = MemoryState({})
    _policy().start(state)
    before = state.state_json()
    state.machine_state[0].memory_map["memory"].free -= GI
    state.machine_state[0].memory_map["memory"].reserved += GI
    state.machine_state[0].cells = [0]
    state.touch([0])
    after = state.state_json()
    assert after["0"]["memory"]["free"] == before["0"]["memory"]["free"] - GI
    assert state.checkpoint_json("Static")["machineState"]["0"]["memoryMap"]["memory"]["reserved"] == GI


def test_checkpoint_round_trip() -> None:
    state = MemoryState({})
    _policy().start(state)
    state.set_memory_blocks("pod", "c", [Block([0], "memory", GI)])
    again = MemoryState.from_checkpoint_json(state.checkpoint_json("Static"))
    assert again.checkpoint_json("Static") == state.checkpoint_json("Static")
    assert again.state_json() == state.state_json()


def test_blocks_to_json_sorts_by_type() -> None:
    blocks = [Block([0, 1], "memory", 2), Block([0, 1], "hugepages-2Mi", 4)]
    assert [b["type"] for b in blocks_to_json(blocks)] == ["hugepages-2Mi", "memory"]


def test_incremental_entries_match_a_fresh_rendering_in_assignment_order() -> None:
    state = MemoryState({0: NUMANodeState({"memory": MemoryTable(8, 0, 8, 0, 8)}, [0])})
    script = [
        ("set", "a", "c"),
        ("set", "b", "c"),
        ("set", "a", "d"),
        ("del", "a", "c"),
        ("del", "a", "d"),
        ("set", "c", "x"),
        ("set", "a", "c"),
        ("del", "b", "c"),
        ("set", "b", "c"),
    ]
    for op, uid, name in script:
        if op == "set":
            state.set_memory_blocks(uid, name, [Block([0], "memory", len(uid + name))])
        else:
            state.delete(uid, name)
        rendered = state.assignments_json()
        fresh = MemoryState(state.machine_state, state.assignments).assignments_json()
        assert rendered == fresh
        assert list(rendered) == list(state.assignments)
