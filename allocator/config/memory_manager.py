"""The memory manager's start-up checks: ``memorymanager.NewManager`` and ``memoryManager.Start``.

Mirrors ``validateReservedMemory``, ``getTotalMemoryTypeReserved``, ``convertReserved``, ``NewPolicyStatic``'s
check and the restart over the previous run's checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from allocator.checkpoint import DEFAULT_STATE_FILE, policy_mismatch, restore_error
from allocator.config.quantity import MEMORY, GoQuantity, is_hugepage
from allocator.config.start_config import (
    POLICY_BEST_EFFORT,
    POLICY_NONE,
    POLICY_STATIC,
    NodeInfo,
    StartConfig,
)
from allocator.errors import ConfigError
from allocator.gotext import go_quote

STATE_FILE = DEFAULT_STATE_FILE


def reserved_totals(reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]]) -> dict[str, GoQuantity]:
    """``getTotalMemoryTypeReserved`` without the NUMA check: per type, the entry's quantity plus the
    running total (so the format of the latest non-zero entry wins)."""
    totals: dict[str, GoQuantity] = {}
    for _numa, limits in reserved:
        for name, q in limits.items():
            totals[name] = q.add(totals[name]) if name in totals else q
    return totals


def memory_manager_stage_error(error: str, field_name: str = "kubelet.reserved_memory") -> ConfigError:
    return ConfigError("memory_manager", error, f"failed to run Kubelet: {error}", field_name)


def validate_reserved_memory(
    numa_ids: Sequence[int],
    nar: Mapping[str, GoQuantity],
    reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]],
) -> None:
    """Kubelet ``validateReservedMemory``: known NUMA nodes, then per memory type the reserved total
    must equal node allocatable's reservation. Raises ``ConfigError`` at stage ``memory_manager``.

    The kubelet walks a Go map of types, so with several mismatches which one it reports is random;
    here the types of ``reservedMemory`` come first, in document order, then node allocatable's.
    """
    known = set(numa_ids)
    for numa, _limits in reserved:
        if numa not in known:
            raise memory_manager_stage_error(
                f"the reserved memory configuration references a NUMA node {numa} "
                "that does not exist on this machine"
            )
    totals = reserved_totals(reserved)
    types = list(totals)
    for name in nar:
        if (name == MEMORY or is_hugepage(name)) and name not in types:
            types.append(name)
    for name in types:
        allocatable = GoQuantity.zero().add(nar[name]) if name in nar else GoQuantity.zero()
        total = GoQuantity.zero().add(totals[name]) if name in totals else GoQuantity.zero()
        if allocatable.value != total.value:
            raise memory_manager_stage_error(
                f"the total amount {go_quote(str(total))} of type {go_quote(name)} is not equal to the value "
                f"{go_quote(str(allocatable))} determined by Node Allocatable feature"
            )


def system_reserved_memory(
    numa_ids: Sequence[int], reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]]
) -> dict[int, dict[str, int]]:
    """Kubelet ``convertReserved`` and the ``NewPolicyStatic`` check: bytes per node and type."""
    converted: dict[int, dict[str, int]] = {numa: {} for numa in numa_ids}
    for numa, limits in reserved:
        for name, q in limits.items():
            if q.value.denominator != 1 or abs(q.value) >= 1 << 63:
                raise memory_manager_stage_error("could not covert a variable of type Quantity to int64")
            converted[numa][name] = int(q.value)
    if sum(node.get(MEMORY, 0) for node in converted.values()) <= 0:
        raise memory_manager_stage_error("[memorymanager] you should specify the system reserved memory")
    return converted


def new_memory_manager(
    policy: str,
    numa_ids: Sequence[int],
    nar: Mapping[str, GoQuantity],
    reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]],
) -> dict[int, dict[str, int]] | None:
    """Kubelet ``memorymanager.NewManager`` on Linux: the system-reserved bytes for Static, ``None``
    for the None policy (which never looks at ``reservedMemory``)."""
    if policy == POLICY_NONE:
        return None
    if policy == POLICY_STATIC:
        validate_reserved_memory(numa_ids, nar, reserved)
        return system_reserved_memory(numa_ids, reserved)
    if policy == POLICY_BEST_EFFORT:
        raise memory_manager_stage_error(
            'policy "BestEffort" is not available for platform "linux"', "kubelet.memory_manager_policy"
        )
    raise memory_manager_stage_error(f"unknown policy: {go_quote(policy)}", "kubelet.memory_manager_policy")


def initial_machine_state(
    nodes: Sequence[NodeInfo], reserved: Mapping[int, Mapping[str, int]]
) -> dict[str, Any]:
    """The Static policy's fresh machine state: memory allocatable excludes every hugepage pool."""
    state: dict[str, Any] = {}
    for node in sorted(nodes, key=lambda n: n.id):
        sys_reserved = reserved.get(node.id, {})
        tables: dict[str, dict[str, int]] = {}
        hugepages_total = sum(node.hugepages.values())
        mem_reserved = sys_reserved.get(MEMORY, 0)
        mem_alloc = node.memory - mem_reserved - hugepages_total
        tables[MEMORY] = {
            "total": node.memory,
            "system_reserved": mem_reserved,
            "allocatable": mem_alloc,
            "reserved": 0,
            "free": mem_alloc,
        }
        for name, total in sorted(node.hugepages.items()):
            reserved_hp = sys_reserved.get(name, 0)
            tables[name] = {
                "total": total,
                "system_reserved": reserved_hp,
                "allocatable": total - reserved_hp,
                "reserved": 0,
                "free": total - reserved_hp,
            }
        state[str(node.id)] = dict(sorted(tables.items()))
    return state


def start_memory_manager(cfg: StartConfig, state: dict[str, Any] | None, policy: str) -> None:
    """``memoryManager.Start`` over the previous run's checkpoint (no assignments in it)."""
    prev = cfg.previous
    if prev is None:
        return
    prev_policy = prev.memory_manager_policy
    if prev_policy != policy:
        error = restore_error(policy_mismatch(policy, prev_policy), STATE_FILE)
        raise ConfigError("memory_manager_start", error, f"start memory manager error: {error}", "kubelet")
    if policy != POLICY_STATIC:
        return
    prev_reserved = system_reserved_memory([n.id for n in cfg.nodes], prev.reserved_memory)
    if initial_machine_state(cfg.nodes, prev_reserved) != state:
        error = "[memorymanager] the expected machine state is different from the real one"
        raise ConfigError(
            "memory_manager_start", error, f"start memory manager error: {error}", "kubelet.reserved_memory"
        )
