"""The ``restart`` step: the kubelet restarts from its ``memory_manager_state`` checkpoint.

Follows ``restart/README.md`` of the kubelet examples, which records what the real code does:

1. ``changes`` are applied (machine and configuration, the surviving active pods, deleting or
   overwriting the checkpoint file);
2. ``topologymanager.NewManager`` and ``memorymanager.NewManager`` (configuration errors);
3. ``memoryManager.Start``: ``state.NewCheckpointState`` (read, decode, verify, compare the policy name;
   write a fresh file when there is none), then the Static policy's ``Start`` -> ``validateState``,
   which rebuilds the machine state from the default one plus every entry and compares it with the
   file's (``areMachineStatesEqual``: per node the assignment count, the group, the set of tables and
   their total / systemReserved / allocatable; ``free`` and ``reserved`` only as sums over the group).

Go dereferences nil pointers in ``areMachineStatesEqual`` for some files (a node of a group without the
table another node has, a group naming a node that is not there): that is a panic, reported as such.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from allocator.checkpoint import Block as CheckpointBlock
from allocator.checkpoint import Checkpoint, CheckpointError, restore_checkpoint
from allocator.errors import ConfigError, InputError
from allocator.scenario import parse_kubelet, parse_machine, parse_reserved_memory

__all__ = [
    "NIL_POINTER_PANIC",
    "StartError",
    "StartPanic",
    "apply_restart",
    "checkpoint_view",
    "has_nil_table",
    "validate_state",
]

NIL_POINTER_PANIC = "runtime error: invalid memory address or nil pointer dereference"
ERR_EMPTY_MACHINE_STATE = "[memorymanager] machine state can not be empty when it has memory assignments"
ERR_STATE_DIFFERS = "[memorymanager] the expected machine state is different from the real one"
CONTAINER_MANAGER_PREFIX = "start memory manager error: "

STAGE_TOPOLOGY_MANAGER_NEW = "topology_manager_new"
STAGE_MEMORY_MANAGER_NEW = "memory_manager_new"
STAGE_MEMORY_MANAGER_START = "memory_manager_start"

_UINT64 = 1 << 64


class StartError(Exception):
    """``memoryManager.Start`` returned an error; ``message`` is the Go text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StartPanic(Exception):
    """``memoryManager.Start`` panicked (a Go runtime error)."""

    def __init__(self, message: str = NIL_POINTER_PANIC) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------------------------------
# The checkpoint file as the vectors show it


def checkpoint_view(text: str | None) -> dict[str, Any] | None:
    """The file parsed generically like the vectors' ``checkpoint``: no checksum, blocks sorted by type.

    ``None`` when there is no file, it is not a JSON object, or it holds ``null``.
    """
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    doc.pop("checksum", None)
    entries = doc.get("entries")
    if isinstance(entries, dict):
        for containers in entries.values():
            if not isinstance(containers, dict):
                continue
            for name, blocks in containers.items():
                if isinstance(blocks, list) and all(isinstance(b, dict) for b in blocks):
                    containers[name] = sorted(blocks, key=lambda b: str(b.get("type", "")))
    return doc


def current_checkpoint_file(manager: Any) -> str:
    """The file the running memory manager last wrote (see :func:`_keep_file` for a restart's file)."""
    return manager.checkpoint_file()  # type: ignore[no-any-return]


def _engine_checkpoint(manager: Any) -> dict[str, Any]:
    """The checkpoint as the engine's state renders it (bypassing a kept-file view)."""
    return type(manager).checkpoint(manager)  # type: ignore[no-any-return]


def _keep_file(manager: Any, text: str | None) -> None:
    """Record that ``text`` is on disk as the kubelet left it after a restart that did not rewrite it.

    Until the state next changes (the kubelet writes the file on every change), the manager's
    ``checkpoint()`` and ``checkpoint_file()`` report that file -- its bytes, block order and unknown
    fields included -- instead of the engine's own rendering.
    """
    manager.__dict__.pop("checkpoint", None)
    manager.__dict__.pop("checkpoint_file", None)
    if text is None:
        return
    at_restart = _engine_checkpoint(manager)
    view = checkpoint_view(text)

    def checkpoint() -> dict[str, Any]:
        current = _engine_checkpoint(manager)
        if current == at_restart and view is not None:
            return json.loads(json.dumps(view))
        return current

    def checkpoint_file() -> str:
        if _engine_checkpoint(manager) == at_restart:
            return text
        return type(manager).checkpoint_file(manager)  # type: ignore[no-any-return]

    manager.checkpoint = checkpoint
    manager.checkpoint_file = checkpoint_file


# --------------------------------------------------------------------------------------------------------
# validateState (policy_static.go), on the decoded checkpoint


@dataclass(slots=True)
class _Table:
    total: int
    system_reserved: int
    allocatable: int
    reserved: int
    free: int


@dataclass(slots=True)
class _Node:
    number_of_assignments: int
    memory_map: dict[str, _Table | None] | None
    cells: list[int]


def _clone_machine_state(cp: Checkpoint) -> dict[int, _Node | None]:
    """``state_mem.SetMachineState`` stores a ``Clone``: nil cells become empty, nil nodes stay nil."""
    machine: dict[int, _Node | None] = {}
    for numa_id, node in (cp.machine_state or {}).items():
        if node is None:
            machine[numa_id] = None
            continue
        tables = None
        if node.memory_map is not None:
            tables = {
                name: None
                if t is None
                else _Table(t.total, t.system_reserved, t.allocatable, t.reserved, t.free)
                for name, t in node.memory_map.items()
            }
        machine[numa_id] = _Node(node.number_of_assignments, tables, list(node.cells or []))
    return machine


def _default_machine_state(default: Mapping[int, Any]) -> dict[int, _Node]:
    """The engine's ``getDefaultMachineState`` in the uint64 arithmetic of the file."""
    return {
        numa_id: _Node(
            node.number_of_assignments,
            {
                name: _Table(
                    t.total % _UINT64,
                    t.system_reserved % _UINT64,
                    t.allocatable % _UINT64,
                    t.reserved % _UINT64,
                    t.free % _UINT64,
                )
                for name, t in node.memory_map.items()
            },
            list(node.cells),
        )
        for numa_id, node in default.items()
    }


def _sorted_entries(cp: Checkpoint) -> Iterable[tuple[str, str, list[CheckpointBlock]]]:
    # Go ranges over maps in random order; sorted keys make the first reported entry deterministic.
    for uid in sorted(cp.entries or {}):
        containers = (cp.entries or {})[uid] or {}
        for name in sorted(containers):
            yield uid, name, list(containers[name] or [])


def _expected_machine_state(cp: Checkpoint, default: Mapping[int, Any]) -> dict[int, _Node]:
    """The default machine state with every entry's blocks allocated again, as ``validateState`` does."""
    expected = _default_machine_state(default)
    for uid, name, blocks in _sorted_entries(cp):
        for block in blocks:
            requested = block.size
            affinity = list(block.numa_affinity or [])
            for numa_id in affinity:
                node = expected.get(numa_id)
                if node is None:
                    raise StartError(
                        f"[memorymanager] (pod: {uid}, container: {name}) "
                        "the memory assignment uses the NUMA that does not exist"
                    )
                node.number_of_assignments += 1
                node.cells = affinity
                table = (node.memory_map or {}).get(block.type)
                if table is None:
                    raise StartError(
                        f"[memorymanager] (pod: {uid}, container: {name}) the memory assignment uses memory "
                        "resource that does not exist"
                    )
                if requested == 0 or table.free == 0:
                    continue
                if table.free >= requested:
                    table.reserved += requested
                    table.free -= requested
                    requested = 0
                    continue
                requested -= table.free
                table.reserved += table.free
                table.free = 0
    return expected


def _group_sums(machine: Mapping[int, _Node | None], cells: list[int], resource: str) -> tuple[int, int]:
    free = reserved = 0
    for numa_id in cells:
        node = machine.get(numa_id)
        table = None if node is None or node.memory_map is None else node.memory_map.get(resource)
        if table is None:
            raise StartPanic()  # ms[nodeID].MemoryMap[resourceName].Free on a nil pointer
        free = (free + table.free) % _UINT64
        reserved = (reserved + table.reserved) % _UINT64
    return free, reserved


def _machine_states_equal(loaded: Mapping[int, _Node | None], expected: Mapping[int, _Node]) -> bool:
    """``areMachineStatesEqual(loaded, expected)``; raises :class:`StartPanic` where Go dereferences nil."""
    if len(loaded) != len(expected):
        return False
    for numa_id in sorted(loaded):
        node = loaded[numa_id]
        other = expected.get(numa_id)
        if other is None:
            return False
        if node is None:
            raise StartPanic()
        if node.number_of_assignments != other.number_of_assignments:
            return False
        # areGroupsEqual sorts both slices in place: the loaded state keeps its cells sorted.
        node.cells.sort()
        if node.cells != sorted(other.cells):
            return False
        tables = node.memory_map or {}
        if len(tables) != len(other.memory_map or {}):
            return False
        for resource in sorted(tables):
            table, other_table = tables[resource], (other.memory_map or {}).get(resource)
            if other_table is None:
                return False
            if table is None:
                raise StartPanic()
            if (table.total, table.system_reserved, table.allocatable) != (
                other_table.total,
                other_table.system_reserved,
                other_table.allocatable,
            ):
                return False
            if _group_sums(loaded, node.cells, resource) != _group_sums(expected, node.cells, resource):
                return False
    return True


def validate_state(cp: Checkpoint, default: Mapping[int, Any]) -> dict[int, _Node] | None:
    """Kubelet ``staticPolicy.validateState`` for the state restored from ``cp``.

    ``default`` is the policy's default machine state (engine ``NUMANodeState`` objects). Returns the
    machine state to start with when the file's was empty (``None`` when the file's is kept); raises
    :class:`StartError` / :class:`StartPanic`.
    """
    loaded = _clone_machine_state(cp)
    if not loaded:
        if cp.entries:
            raise StartError(ERR_EMPTY_MACHINE_STATE)
        return _default_machine_state(default)
    expected = _expected_machine_state(cp, default)
    if not _machine_states_equal(loaded, expected):
        raise StartError(ERR_STATE_DIFFERS)
    return None


# --------------------------------------------------------------------------------------------------------
# The restart step


def _apply_changes(manager: Any, changes: Mapping[str, Any]) -> tuple[Any, Any]:
    """The new machine and kubelet configuration (``changes`` persist for every later step)."""
    machine = manager.machine
    if "machine" in changes:
        machine = parse_machine(changes["machine"], "changes.machine")
    update: dict[str, Any] = {}
    if "reserved_memory" in changes:
        update["reserved_memory"] = parse_reserved_memory(
            changes["reserved_memory"], "changes.reserved_memory"
        )
    for key in (
        "memory_manager_policy",
        "topology_manager_policy",
        "topology_manager_scope",
        "topology_manager_policy_options",
        "node_allocatable_reservation",
    ):
        if key in changes:
            update[key] = changes[key]
    kubelet = manager.kubelet
    if update:
        doc = kubelet.model_dump(mode="python")
        doc.update(update)
        doc["reserved_memory"] = [
            entry if isinstance(entry, Mapping) else entry.model_dump() for entry in doc["reserved_memory"]
        ]
        kubelet = parse_kubelet(doc, "changes")
    return machine, kubelet


def _failure(stage: str, error: str, file_text: str | None, *, panic: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"started": False, "stage": stage, "error": error}
    if panic:
        result["panic"] = True
    elif stage == STAGE_MEMORY_MANAGER_START:
        result["container_manager_error"] = CONTAINER_MANAGER_PREFIX + error
    result.update({"state_after": None, "numa_groups_after": None, "checkpoint": checkpoint_view(file_text)})
    return result


def _engine_state(machine: Mapping[int, _Node], cp: Checkpoint | None) -> Any:
    """The engine's ``MemoryState`` for the restored machine state and the file's entries."""
    from allocator.state import Block, MemoryState, MemoryTable, NUMANodeState

    nodes = {
        numa_id: NUMANodeState(
            {
                name: MemoryTable(t.total, t.system_reserved, t.allocatable, t.reserved, t.free)
                for name, t in (node.memory_map or {}).items()
                if t is not None
            },
            list(node.cells),
            node.number_of_assignments,
        )
        for numa_id, node in machine.items()
    }
    assignments: dict[str, dict[str, list[Any]]] = {}
    for uid, containers in ((cp.entries if cp else None) or {}).items():
        assignments[uid] = {
            name: [Block(list(b.numa_affinity or []), b.type, b.size) for b in (blocks or [])]
            for name, blocks in (containers or {}).items()
        }
    return MemoryState(nodes, assignments)


def has_nil_table(cp: Checkpoint) -> bool:
    """A ``null`` memory table in the file: ``NUMANodeMap.Clone`` dereferences it."""
    return any(
        table is None
        for node in (cp.machine_state or {}).values()
        if node is not None and node.memory_map is not None
        for table in node.memory_map.values()
    )


def _as_nodes(cp: Checkpoint) -> dict[int, _Node]:
    return {k: v for k, v in _clone_machine_state(cp).items() if v is not None}


def apply_restart(manager: Any, step: Mapping[str, Any]) -> dict[str, Any]:
    """Restart ``manager`` (a :class:`allocator.manager.MemoryManager`) in place; the step's ``expect`` keys.

    On success the manager runs with new topology and memory managers, the restored state, the surviving
    active pods and a container map holding all their containers; blocks of pods that did not survive stay
    until the next admission's ``removeStaleState``. On failure the manager is left as it was (a failed
    restart is the last thing that happens to that kubelet).
    """
    from allocator.manager import MemoryManager

    changes = step.get("changes") or {}
    if not isinstance(changes, Mapping):
        raise InputError("changes", "expected an object")
    file_text: str | None = current_checkpoint_file(manager)
    machine, kubelet = _apply_changes(manager, changes)
    active = list(manager._active.values())
    if "checkpoint_file" in changes and not isinstance(changes["checkpoint_file"], str):
        raise InputError("changes.checkpoint_file", "expected a string (the file's exact content)")
    if "active_pods" in changes:
        uids = changes["active_pods"]
        if not isinstance(uids, list) or not all(isinstance(uid, str) for uid in uids):
            raise InputError("changes.active_pods", "expected a list of pod UIDs")
        keep = set(uids)
        active = [pod for pod in active if pod.uid in keep]
    if changes.get("delete_checkpoint"):
        file_text = None
    if "checkpoint_file" in changes:
        file_text = changes["checkpoint_file"]

    try:
        fresh = MemoryManager(machine, kubelet)
    except ConfigError as err:
        stage = STAGE_TOPOLOGY_MANAGER_NEW if err.stage.startswith("topology") else STAGE_MEMORY_MANAGER_NEW
        return _failure(stage, err.error, file_text)

    policy_name = fresh.policy.name
    try:
        cp = restore_checkpoint(file_text, policy_name)
    except CheckpointError as err:
        return _failure(STAGE_MEMORY_MANAGER_START, err.message, file_text)

    if cp is not None and has_nil_table(cp):
        # restoreState's SetMachineState clones every table through its pointer.
        return _failure(STAGE_MEMORY_MANAGER_START, NIL_POINTER_PANIC, file_text, panic=True)
    rewritten = cp is None
    restored_machine: dict[int, _Node] | None = None
    if cp is None:
        # No file: restoreState stores the empty state, the Static policy then fills the default one.
        state = fresh.memory_state
    else:
        if policy_name == "Static":
            try:
                replacement = validate_state(cp, fresh.policy.default_machine_state())
            except StartError as err:
                return _failure(STAGE_MEMORY_MANAGER_START, err.message, file_text)
            except StartPanic as err:
                return _failure(STAGE_MEMORY_MANAGER_START, err.message, file_text, panic=True)
            if replacement is not None:
                restored_machine, rewritten = replacement, True
        if restored_machine is None:
            # Cells come back sorted: areGroupsEqual sorted them in place while comparing.
            restored_machine = _as_nodes(cp)
            for node in restored_machine.values():
                node.cells.sort()
        state = _engine_state(restored_machine, cp)

    initial_state = manager.initial_state()
    manager.__dict__.update(fresh.__dict__)
    manager._initial_state = initial_state
    manager.memory_state = state
    if hasattr(manager.policy, "start"):
        manager.policy.start(state)  # resets the policy's caches; the state is non-empty for Static
    manager._active = {pod.uid: pod for pod in active}
    manager._container_map = {
        (pod.uid, container.name): f"{pod.uid}/{container.name}"
        for pod in active
        for container in pod.all_containers
    }
    manager._admitting = None
    # Blocks of pods that are no longer active are freed by the first removeStaleState.
    manager._maybe_stale = True
    if rewritten or file_text is None:
        _keep_file(manager, None)
        file_after = manager.checkpoint_file()
    else:
        _keep_file(manager, file_text)
        file_after = file_text
    return {
        "started": True,
        "stage": "",
        "error": "",
        "state_after": manager.state(),
        "numa_groups_after": manager.numa_groups(),
        "checkpoint": checkpoint_view(file_after),
    }
