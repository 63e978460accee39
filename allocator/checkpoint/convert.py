"""Conversion between a decoded :class:`Checkpoint` and the engine's dicts (the vectors' formats)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from allocator.checkpoint.document import Block, Checkpoint, MemoryTable, NUMANodeState
from allocator.checkpoint.encoder import marshal_checkpoint


def _get(d: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in d:
            return d[name]
    return default


def _table_from_dict(d: Mapping[str, Any] | None) -> MemoryTable | None:
    if d is None:
        return None
    return MemoryTable(
        total=int(_get(d, "total", "total_mem_size", default=0)),
        system_reserved=int(_get(d, "system_reserved", "systemReserved", default=0)),
        allocatable=int(_get(d, "allocatable", default=0)),
        reserved=int(_get(d, "reserved", default=0)),
        free=int(_get(d, "free", default=0)),
    )


def _blocks_from_list(blocks: list[Mapping[str, Any]] | None) -> list[Block] | None:
    if blocks is None:
        return None
    return [
        Block(
            numa_affinity=None
            if (aff := _get(b, "numa_affinity", "numaAffinity")) is None
            else [int(i) for i in aff],
            type=str(b["type"]),
            size=int(b["size"]),
        )
        for b in blocks
    ]


def entries_from_dict(entries: Mapping[str, Mapping[str, list[Mapping[str, Any]]]] | None) -> Any:
    """``{pod_uid: {container: [block]}}`` (snake or camel block keys) -> checkpoint entries, order kept."""
    if entries is None:
        return {}
    return {
        uid: None if ctrs is None else {name: _blocks_from_list(blocks) for name, blocks in ctrs.items()}
        for uid, ctrs in entries.items()
    }


def machine_state_from_dicts(
    state: Mapping[str, Mapping[str, Mapping[str, int]]], numa_groups: Mapping[str, Mapping[str, Any]]
) -> dict[int, NUMANodeState | None]:
    """The engine's ``state()`` + ``numa_groups()`` -> ``state.NUMANodeMap``."""
    machine: dict[int, NUMANodeState | None] = {}
    for nid, tables in state.items():
        group = numa_groups.get(str(nid), {})
        machine[int(nid)] = NUMANodeState(
            number_of_assignments=int(_get(group, "number_of_assignments", "numberOfAssignments", default=0)),
            memory_map={name: _table_from_dict(t) for name, t in tables.items()},
            cells=[int(c) for c in group.get("cells", [int(nid)])],
        )
    return machine


def machine_state_from_checkpoint_dict(machine_state: Mapping[str, Any] | None) -> Any:
    """The vectors' ``checkpoint.machineState`` (camelCase) or a snake_case twin -> ``state.NUMANodeMap``."""
    if machine_state is None:
        return None
    machine: dict[int, NUMANodeState | None] = {}
    for nid, node in machine_state.items():
        if node is None:
            machine[int(nid)] = None
            continue
        memory_map = _get(node, "memoryMap", "memory_map")
        cells = node.get("cells")
        machine[int(nid)] = NUMANodeState(
            number_of_assignments=int(_get(node, "numberOfAssignments", "number_of_assignments", default=0)),
            memory_map=None
            if memory_map is None
            else {k: _table_from_dict(t) for k, t in memory_map.items()},
            cells=None if cells is None else [int(c) for c in cells],
        )
    return machine


def encode_checkpoint(
    policy_name: str, machine_state: Mapping[Any, Any], entries: Mapping[str, Any] | None
) -> str:
    """The kubelet's ``memory_manager_state`` bytes (as str) for this state, checksum included.

    ``machine_state`` is keyed by NUMA id (int or str) with per-node ``numberOfAssignments``/``memoryMap``/
    ``cells`` (camelCase as in the vectors' checkpoint, or snake_case); ``entries`` is
    ``{pod_uid: {container: [{"numa_affinity"|"numaAffinity", "type", "size"}]}}``. Blocks are written in
    the order given.
    """
    cp = Checkpoint(
        policy_name=policy_name,
        machine_state=machine_state_from_checkpoint_dict(machine_state),
        entries=entries_from_dict(entries),
    )
    return marshal_checkpoint(cp)


def _sorted_blocks(blocks: list[Block]) -> list[Block]:
    return sorted(blocks, key=lambda b: b.type.encode())


def checkpoint_to_dict(cp: Checkpoint, *, sort_blocks: bool = True) -> dict[str, Any]:
    """The vectors' ``checkpoint``: the file's JSON without ``checksum``, blocks sorted by type."""
    doc = json.loads(marshal_checkpoint(cp))
    doc.pop("checksum", None)
    if sort_blocks and doc.get("entries"):
        for ctrs in doc["entries"].values():
            for name, blocks in (ctrs or {}).items():
                if blocks is not None:
                    ctrs[name] = sorted(blocks, key=lambda b: b["type"].encode())
    return doc


def checkpoint_to_state(cp: Checkpoint) -> dict[str, dict[str, dict[str, int]]]:
    """``machineState`` in the vectors' ``state`` format (keys ``str(numa id)``, snake_case tables)."""
    state: dict[str, dict[str, dict[str, int]]] = {}
    for nid, node in sorted((cp.machine_state or {}).items()):
        tables: dict[str, dict[str, int]] = {}
        for name, table in sorted(((node.memory_map if node else None) or {}).items()):
            if table is None:
                continue
            tables[name] = {
                "total": table.total,
                "system_reserved": table.system_reserved,
                "allocatable": table.allocatable,
                "reserved": table.reserved,
                "free": table.free,
            }
        state[str(nid)] = tables
    return state


def checkpoint_to_numa_groups(cp: Checkpoint) -> dict[str, dict[str, Any]]:
    """``machineState`` in the vectors' ``numa_groups`` format."""
    return {
        str(nid): {
            "cells": list((node.cells if node else None) or []),
            "number_of_assignments": node.number_of_assignments if node else 0,
        }
        for nid, node in sorted((cp.machine_state or {}).items())
    }


def checkpoint_to_assignments(
    cp: Checkpoint, *, sort_blocks: bool = False
) -> dict[str, dict[str, list[dict]]]:
    """``entries`` as ``{pod_uid: {container: [{"numa_affinity", "type", "size"}]}}`` (snake_case)."""
    result: dict[str, dict[str, list[dict]]] = {}
    for uid, ctrs in (cp.entries or {}).items():
        result[uid] = {}
        for name, blocks in (ctrs or {}).items():
            ordered = _sorted_blocks(blocks or []) if sort_blocks else list(blocks or [])
            result[uid][name] = [
                {"numa_affinity": list(b.numa_affinity or []), "type": b.type, "size": b.size}
                for b in ordered
            ]
    return result
