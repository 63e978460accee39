"""The Memory Manager's state: per-NUMA memory tables, NUMA groups and container memory blocks.

Mirrors ``pkg/kubelet/cm/memorymanager/state`` (``MemoryTable``, ``NUMANodeState``, ``NUMANodeMap``,
``Block``, ``ContainerMemoryAssignments`` and the in-memory ``State``). Bytes are plain ints; the kubelet
uses uint64 and the configuration checks keep every value non-negative so no wrap-around can happen.

Two JSON shapes are produced: the vectors' state format (snake_case, ``{"<id>": {"<resource>": {...}}}``)
and the checkpoint document (camelCase, as ``memory_manager_state`` stores it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Block",
    "MemoryState",
    "MemoryTable",
    "NUMANodeState",
    "blocks_to_json",
]


@dataclass(slots=True)
class MemoryTable:
    """``state.MemoryTable``: one resource on one NUMA node."""

    total: int
    system_reserved: int
    allocatable: int
    reserved: int
    free: int

    def to_json(self) -> dict[str, int]:
        return {
            "total": self.total,
            "system_reserved": self.system_reserved,
            "allocatable": self.allocatable,
            "reserved": self.reserved,
            "free": self.free,
        }

    def to_checkpoint(self) -> dict[str, int]:
        return {
            "total": self.total,
            "systemReserved": self.system_reserved,
            "allocatable": self.allocatable,
            "reserved": self.reserved,
            "free": self.free,
        }

    def copy(self) -> MemoryTable:
        return MemoryTable(self.total, self.system_reserved, self.allocatable, self.reserved, self.free)


@dataclass(slots=True)
class NUMANodeState:
    """``state.NUMANodeState``: the node's tables, its assignment count and its NUMA group (``cells``)."""

    memory_map: dict[str, MemoryTable]
    cells: list[int]
    number_of_assignments: int = 0

    def copy(self) -> NUMANodeState:
        return NUMANodeState(
            {name: table.copy() for name, table in self.memory_map.items()},
            list(self.cells),
            self.number_of_assignments,
        )


@dataclass(slots=True)
class Block:
    """``state.Block``: memory of one type pinned to a set of NUMA nodes (``numa_affinity`` ascending)."""

    numa_affinity: list[int]
    type: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"numa_affinity": list(self.numa_affinity), "type": self.type, "size": self.size}

    def to_checkpoint(self) -> dict[str, Any]:
        return {"numaAffinity": list(self.numa_affinity), "type": self.type, "size": self.size}

    def copy(self) -> Block:
        return Block(self.numa_affinity, self.type, self.size)


def _block_type(block: Block) -> str:
    return block.type


def blocks_to_json(blocks: list[Block]) -> list[dict[str, Any]]:
    """Blocks in the vectors' shape, sorted by type (Go map order is random upstream)."""
    return [b.to_json() for b in sorted(blocks, key=_block_type)]


@dataclass(slots=True)
class MemoryState:
    """``state.State`` kept in memory: the machine state and the container memory assignments.

    ``assignments[pod_uid][container_name]`` keeps insertion order, which this engine uses wherever
    the kubelet iterates a Go map (stale-state sweeps), so replays are deterministic.
    """

    machine_state: dict[int, NUMANodeState]
    assignments: dict[str, dict[str, list[Block]]] = field(default_factory=dict)
    # Bumped on every mutation of the machine state (``touch``); lets hint calculation cache per-mask
    # sums. Whoever edits ``machine_state`` must call ``touch`` (naming the nodes it changed, if known).
    version: int = 0
    # Rendered JSON, cached per NUMA node and per pod and shared between callers (treat as read-only).
    _node_views: dict[int, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _pod_views: dict[str, dict[str, list[dict[str, Any]]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _views: dict[str, tuple[int, Any]] = field(default_factory=dict, repr=False, compare=False)
    # The last rendered entries and the pods changed since: the next rendering copies and patches it.
    _entries_last: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    _entries_dirty: set[str] = field(default_factory=set, repr=False, compare=False)

    def get_memory_blocks(self, pod_uid: str, container_name: str) -> list[Block] | None:
        """``GetMemoryBlocks``: ``None`` when the container has no entry."""
        containers = self.assignments.get(pod_uid)
        if containers is None:
            return None
        return containers.get(container_name)

    def set_memory_blocks(self, pod_uid: str, container_name: str, blocks: list[Block]) -> None:
        """``SetMemoryBlocks``."""
        self.assignments.setdefault(pod_uid, {})[container_name] = blocks
        self._pod_views.pop(pod_uid, None)
        self._entries_dirty.add(pod_uid)
        self._views.pop("entries", None)

    def delete(self, pod_uid: str, container_name: str) -> None:
        """``Delete``: drop the container's entry, and the pod's once it has no container left."""
        containers = self.assignments.get(pod_uid)
        if containers is None:
            return
        containers.pop(container_name, None)
        if not containers:
            del self.assignments[pod_uid]
        self._pod_views.pop(pod_uid, None)
        self._entries_dirty.add(pod_uid)
        self._views.pop("entries", None)

    def touch(self, node_ids: list[int] | None = None) -> None:
        """Record a machine-state change of ``node_ids`` (all nodes when ``None``)."""
        self.version += 1
        if node_ids is None:
            self._node_views.clear()
        else:
            for node_id in node_ids:
                self._node_views.pop(node_id, None)
        self._views.clear()

    def copy(self) -> MemoryState:
        return MemoryState(
            {node_id: node.copy() for node_id, node in self.machine_state.items()},
            {
                uid: {name: [b.copy() for b in blocks] for name, blocks in containers.items()}
                for uid, containers in self.assignments.items()
            },
            self.version,
        )

    # -- JSON views ------------------------------------------------------------------------------

    def _node_view(self, node_id: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(state format, numa group, checkpoint machineState entry) of one node."""
        view = self._node_views.get(node_id)
        if view is None:
            node = self.machine_state[node_id]
            names = sorted(node.memory_map)
            view = (
                {name: node.memory_map[name].to_json() for name in names},
                {"cells": sorted(node.cells), "number_of_assignments": node.number_of_assignments},
                {
                    "numberOfAssignments": node.number_of_assignments,
                    "memoryMap": {name: node.memory_map[name].to_checkpoint() for name in names},
                    "cells": list(node.cells),
                },
            )
            self._node_views[node_id] = view
        return view

    def _render(self, key: str, index: int) -> dict[str, Any]:
        hit = self._views.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        # The three per-node views are built in one pass: a step's outcome needs all of them.
        views: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = ({}, {}, {})
        for node_id in sorted(self.machine_state):
            node_view = self._node_view(node_id)
            name = str(node_id)
            views[0][name] = node_view[0]
            views[1][name] = node_view[1]
            views[2][name] = node_view[2]
        for view_key, view in zip(("state", "groups", "machine"), views, strict=True):
            self._views[view_key] = (self.version, view)
        return views[index]

    def state_json(self) -> dict[str, Any]:
        """The vectors' state format: ``{"<id>": {"<resource>": {total, system_reserved, ...}}}``."""
        return self._render("state", 0)

    def numa_groups_json(self) -> dict[str, Any]:
        """``{"<id>": {"cells": [...], "number_of_assignments": n}}``."""
        return self._render("groups", 1)

    def assignments_json(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """Container blocks as checkpoint entries (camelCase keys), blocks sorted by type."""
        hit = self._views.get("entries")
        if hit is not None:
            return hit[1]
        last = self._entries_last
        if last is None:
            out = {uid: self._pod_view(uid) for uid in self.assignments}
        else:
            # Patch a copy of the previous rendering: only the pods changed since are rendered again.
            out = last.copy()
            for uid in self._entries_dirty:
                if uid in self.assignments:
                    out[uid] = self._pod_view(uid)
                else:
                    out.pop(uid, None)
            if list(out) != list(self.assignments):  # a pod deleted and re-added moves to the end
                out = {uid: self._pod_view(uid) for uid in self.assignments}
        self._entries_dirty.clear()
        self._entries_last = out
        self._views["entries"] = (self.version, out)
        return out

    def _pod_view(self, uid: str) -> dict[str, list[dict[str, Any]]]:
        rendered = self._pod_views.get(uid)
        if rendered is None:
            containers = self.assignments[uid]
            rendered = self._pod_views[uid] = {
                name: [b.to_checkpoint() for b in sorted(blocks, key=_block_type)]
                for name, blocks in containers.items()
            }
        return rendered

    def checkpoint_json(self, policy_name: str) -> dict[str, Any]:
        """The ``memory_manager_state`` document without its checksum; ``entries`` omitted when empty."""
        doc: dict[str, Any] = {"policyName": policy_name, "machineState": self._render("machine", 2)}
        if self.assignments:
            doc["entries"] = self.assignments_json()
        return doc

    @classmethod
    def from_checkpoint_json(cls, doc: dict[str, Any]) -> MemoryState:
        """Inverse of :meth:`checkpoint_json` (used by snapshots and restarts)."""
        machine: dict[int, NUMANodeState] = {}
        for key, node in (doc.get("machineState") or {}).items():
            tables = {
                name: MemoryTable(t["total"], t["systemReserved"], t["allocatable"], t["reserved"], t["free"])
                for name, t in (node.get("memoryMap") or {}).items()
            }
            machine[int(key)] = NUMANodeState(
                tables, list(node.get("cells") or []), int(node.get("numberOfAssignments") or 0)
            )
        assignments: dict[str, dict[str, list[Block]]] = {}
        for uid, containers in (doc.get("entries") or {}).items():
            assignments[uid] = {
                name: [Block(list(b["numaAffinity"]), b["type"], int(b["size"])) for b in blocks]
                for name, blocks in containers.items()
            }
        return cls(machine, assignments)
