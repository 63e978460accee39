"""The ``Static`` Memory Manager policy: NUMA hints, allocation, NUMA groups and init-container reuse.

Mirrors ``pkg/kubelet/cm/memorymanager/policy_static.go`` rule by rule, with two engineering changes
that do not change any outcome:

* every NUMA mask is a plain int and the masks are enumerated once per machine (``IterateBitMasks``
  order); per-mask allocatable sums are computed once and per-mask free sums are rebuilt only when the
  machine state changed (``MemoryState.version``), by extending the sum of the mask without its top bit;
* Go map iteration (requested resources, memory blocks) is replaced by sorted order.

Where the kubelet's Go code would crash (a requested hugepage size the machine does not report), a
:class:`KubeletPanic` carries the Go runtime's message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from allocator.bitmask import all_masks, ids_of, mask_of
from allocator.errors import ConfigError
from allocator.hints import TopologyHint
from allocator.memory_policy.base import (
    MEMORY_MANAGER_STAGE,
    AllocationError,
    ProviderHints,
    get_requested_resources,
)
from allocator.memory_policy.none import POLICY_NONE, NonePolicy
from allocator.metrics import Metrics
from allocator.pods import QOS_GUARANTEED, Container, Pod
from allocator.state import Block, MemoryState, MemoryTable, NUMANodeState
from allocator.topology_manager import KubeletPanic

POLICY_STATIC = "Static"

NIL_POINTER_PANIC = "runtime error: invalid memory address or nil pointer dereference"

ERR_DEFAULT_AFFINITY = (
    "[memorymanager] failed to get the default NUMA affinity, no NUMA nodes with enough memory is available"
)
ERR_DEFAULT_PREFERRED = "[memorymanager] failed to find the default preferred hint"
ERR_EXTEND = "[memorymanager] failed to find NUMA nodes to extend the current topology hint"
ERR_EXTENDED_PREFERRED = "[memorymanager] failed to find the extended preferred hint"
ERR_VIOLATES_GROUPS = "[memorymanager] preferred hint violates NUMA node allocation"
ERR_NO_SYSTEM_RESERVED = "[memorymanager] you should specify the system reserved memory"

# Immutable hints shared by every policy instance: (not preferred, preferred) -> mask -> hint.
_SHARED_HINTS: tuple[dict[int, TopologyHint], dict[int, TopologyHint]] = ({}, {})
_SHARED_HINTS_LIMIT = 1 << 17  # every mask of a 17-node machine

# systemReservedMemory: NUMA id -> resource -> bytes.
SystemReserved = dict[int, dict[str, int]]
# initContainersReusableMemory: pod UID -> mask -> resource -> bytes (the kubelet keys masks by string).
ReusableMemory = dict[str, dict[int, dict[str, int]]]


def _is_regular_init_container(pod: Pod, container: Container) -> bool:
    """Kubelet ``isRegularInitContainer``: an init container of the pod that is not a sidecar."""
    for init in pod.init_containers:
        if init.name == container.name:
            return not init.restartable
    return False


def find_best_hint(hints: Sequence[TopologyHint] | None) -> TopologyHint:
    """Kubelet ``findBestHint``: preferred first, then the narrowest mask (``IsNarrowerThan``).

    An empty list gives the zero hint (nil affinity, not preferred), as in Go.
    """
    best: TopologyHint | None = None
    best_key: tuple[bool, int, int] | None = None
    for hint in hints or ():
        assert hint.numa_affinity is not None
        key = (not hint.preferred, hint.numa_affinity.bit_count(), hint.numa_affinity)
        if best_key is None or key < best_key:
            best, best_key = hint, key
    return best if best is not None else TopologyHint(None, False)


def get_pod_requested_resources(pod: Pod) -> dict[str, int]:
    """Kubelet ``getPodRequestedResources``: what the pod needs at its peak, per resource.

    Regular init containers run one at a time on top of the sidecars started before them; app
    containers run together with every sidecar. Only resources some app container requests are kept
    (upstream quirk: a resource requested only by init containers is dropped). Memoised on the pod.
    """
    cached = pod.memo.get("pod_requested")
    if cached is None:
        cached = pod.memo["pod_requested"] = _pod_requested_resources(pod)
    return cached


def _pod_requested_resources(pod: Pod) -> dict[str, int]:
    init_peak: dict[str, int] = {}
    sidecars: dict[str, int] = {}
    for init in pod.init_containers:
        for name, size in get_requested_resources(pod, init).items():
            init_peak.setdefault(name, 0)
            if init.restartable:
                sidecars[name] = sidecars.get(name, 0) + size
            elif sidecars.get(name, 0) + size > init_peak[name]:
                init_peak[name] = sidecars.get(name, 0) + size
    apps: dict[str, int] = {}
    for app in pod.containers:
        for name, size in get_requested_resources(pod, app).items():
            apps[name] = apps.get(name, 0) + size
    return {name: max(apps[name] + sidecars.get(name, 0), init_peak.get(name, 0)) for name in sorted(apps)}


class StaticPolicy:
    """Kubelet ``staticPolicy``.

    ``nodes`` are ``(id, memory bytes, {hugepages-<size>: total bytes})`` in topology order.
    """

    name = POLICY_STATIC

    def __init__(
        self,
        nodes: Sequence[tuple[int, int, Mapping[str, int]]],
        system_reserved: SystemReserved,
        metrics: Metrics | None = None,
    ) -> None:
        total_memory_reserved = sum(r.get("memory", 0) for r in system_reserved.values())
        if total_memory_reserved <= 0:
            raise ConfigError(
                MEMORY_MANAGER_STAGE,
                ERR_NO_SYSTEM_RESERVED,
                f"failed to run Kubelet: {ERR_NO_SYSTEM_RESERVED}",
                "kubelet.reserved_memory",
            )
        self.nodes = [(node_id, memory, dict(hugepages)) for node_id, memory, hugepages in nodes]
        self.system_reserved = system_reserved
        self.metrics = metrics if metrics is not None else Metrics()
        self.reusable: ReusableMemory = {}
        self.numa_ids = sorted(node_id for node_id, _, _ in self.nodes)
        self._masks: tuple[int, ...] = all_masks(tuple(self.numa_ids))
        # For the incremental per-mask sums: mask index -> index of the mask without its highest bit
        # (-1 for single-node masks) and the NUMA id of that bit.
        index = {mask: i for i, mask in enumerate(self._masks)}
        self._parent: list[int] = []
        self._top: list[int] = []
        for mask in self._masks:
            top = mask.bit_length() - 1
            rest = mask ^ (1 << top)
            self._parent.append(index[rest] if rest else -1)
            self._top.append(top)
        self._counts = [mask.bit_count() for mask in self._masks]
        self._bits: dict[int, list[int]] = {}
        self._alloc_sums: dict[str, list[int]] = {}
        self._free_sums: dict[str, tuple[int, int, list[int]]] = {}
        self._groups_cache: tuple[int, int, tuple[int, int, dict[int, int]]] | None = None
        self._fit_cache: dict[tuple[tuple[str, int], ...], tuple[list[int], int]] = {}

    # -- state ----------------------------------------------------------------------------------

    def default_machine_state(self) -> dict[int, NUMANodeState]:
        """Kubelet ``getDefaultMachineState``: hugepage pools come out of the node's regular memory."""
        machine: dict[int, NUMANodeState] = {}
        for node_id, memory, hugepages in self.nodes:
            reserved = self.system_reserved.get(node_id, {})
            tables: dict[str, MemoryTable] = {}
            hugepages_total = 0
            for name, total in hugepages.items():
                system_reserved = reserved.get(name, 0)
                allocatable = total - system_reserved
                tables[name] = MemoryTable(total, system_reserved, allocatable, 0, allocatable)
                hugepages_total += total
            system_reserved = reserved.get("memory", 0)
            allocatable = memory - system_reserved - hugepages_total
            tables["memory"] = MemoryTable(memory, system_reserved, allocatable, 0, allocatable)
            machine[node_id] = NUMANodeState(tables, [node_id], 0)
        return machine

    def start(self, state: MemoryState) -> None:
        """Kubelet ``staticPolicy.Start`` for a fresh checkpoint: fill the default machine state."""
        self._free_sums.clear()
        self._groups_cache = None
        if not state.machine_state:
            state.machine_state = self.default_machine_state()
            state.touch()

    # -- per-mask sums ----------------------------------------------------------------------------

    def mask_bits(self, mask: int) -> list[int]:
        bits = self._bits.get(mask)
        if bits is None:
            bits = self._bits[mask] = ids_of(mask)
        return bits

    def _table(self, state: MemoryState, node_id: int, resource: str) -> MemoryTable:
        table = state.machine_state[node_id].memory_map.get(resource)
        if table is None:
            # Go dereferences the missing *MemoryTable.
            raise KubeletPanic(NIL_POINTER_PANIC)
        return table

    def _sums(self, values: dict[int, int]) -> list[int]:
        sums = [0] * (len(self._masks) + 1)  # the extra last slot is the empty mask (index -1)
        parent = self._parent
        top = self._top
        for i in range(len(self._masks)):
            sums[i] = sums[parent[i]] + values[top[i]]
        return sums

    def _allocatable_sums(self, state: MemoryState, resource: str) -> list[int]:
        sums = self._alloc_sums.get(resource)
        if sums is None:
            values = {n: self._table(state, n, resource).allocatable for n in self.numa_ids}
            sums = self._alloc_sums[resource] = self._sums(values)
        return sums

    def _free_sums_of(self, state: MemoryState, resource: str) -> list[int]:
        cached = self._free_sums.get(resource)
        if cached is not None and cached[0] == id(state) and cached[1] == state.version:
            return cached[2]
        values = {n: self._table(state, n, resource).free for n in self.numa_ids}
        sums = self._sums(values)
        self._free_sums[resource] = (id(state), state.version, sums)
        return sums

    # -- hints -----------------------------------------------------------------------------------

    def get_pod_reusable_memory(self, pod_uid: str, mask: int, resource: str) -> int:
        """Kubelet ``getPodReusableMemory``."""
        by_mask = self.reusable.get(pod_uid)
        if by_mask is None:
            return 0
        return by_mask.get(mask, {}).get(resource, 0)

    def _capacity_fit(self, state: MemoryState, request: Mapping[str, int]) -> tuple[list[int], int]:
        """Indices of the masks whose allocatable memory holds ``request``, and the minimal mask size.

        Allocatable memory never changes after start, so this is cached per request.
        """
        key = tuple(request.items())
        hit = self._fit_cache.get(key)
        if hit is None:
            fit = list(range(len(self._masks)))
            for resource, size in key:
                sums = self._allocatable_sums(state, resource)
                fit = [i for i in fit if sums[i] >= size]
            counts = self._counts
            min_size = min((counts[i] for i in fit), default=len(self.numa_ids))
            if len(self._fit_cache) > 4096:
                self._fit_cache.clear()
            hit = self._fit_cache[key] = (fit, min_size)
        return hit

    def _groups_of(self, state: MemoryState) -> tuple[int, int, dict[int, int]]:
        """(grouped nodes, used nodes, cells mask -> used nodes carrying it), cached per state version.

        Grouped nodes (cells naming more than themselves) are never single-node hints; a used node
        may join a multi-node mask only when that mask is exactly its group.
        """
        cached = self._groups_cache
        if cached is not None and cached[0] == id(state) and cached[1] == state.version:
            return cached[2]
        grouped = 0
        used = 0
        group_members: dict[int, int] = {}
        for node_id, node in state.machine_state.items():
            bit = 1 << node_id
            cells = node.cells
            if len(cells) > 1:
                grouped |= bit
            if node.number_of_assignments > 0:
                used |= bit
                cells_mask = bit if len(cells) == 1 else mask_of(cells)
                group_members[cells_mask] = group_members.get(cells_mask, 0) | bit
        result = (grouped, used, group_members)
        self._groups_cache = (id(state), state.version, result)
        return result

    def calculate_hint_indices(
        self, state: MemoryState, pod_uid: str, request: Mapping[str, int]
    ) -> tuple[list[int], int]:
        """Indices (into the ``IterateBitMasks`` order) of the masks ``calculateHints`` keeps, and the
        minimal affinity size.

        A mask must hold the request in allocatable memory (that alone sets the minimal size), must
        respect NUMA groups (a grouped node is never a single-node hint; a used node joins a
        multi-node mask only when its group is exactly that mask), and must hold the request in free
        memory plus what this pod's init containers left reusable on exactly that mask.
        """
        fit, min_size = self._capacity_fit(state, request)
        free = [(self._free_sums_of(state, r), size, r) for r, size in request.items()]
        pod_reusable = self.reusable.get(pod_uid)

        grouped, used, group_members = self._groups_of(state)

        masks = self._masks
        counts = self._counts
        kept: list[int] = []
        keep = kept.append
        for i in fit:
            mask = masks[i]
            if counts[i] == 1:
                if mask & grouped:
                    continue
            else:
                # Every used node of a multi-node mask must belong to exactly this group.
                in_use = mask & used
                if in_use and group_members.get(mask, 0) != in_use:
                    continue
            if pod_reusable is None:
                for sums, size, _ in free:
                    if sums[i] < size:
                        break
                else:
                    keep(i)
            else:
                reusable = pod_reusable.get(mask, {})
                for sums, size, resource in free:
                    if sums[i] + reusable.get(resource, 0) < size:
                        break
                else:
                    keep(i)
        return kept, min_size

    def calculate_hint_masks(
        self, state: MemoryState, pod_uid: str, request: Mapping[str, int]
    ) -> tuple[list[int], int]:
        """The masks ``calculateHints`` keeps, in ``IterateBitMasks`` order, and the minimal affinity size."""
        indices, min_size = self.calculate_hint_indices(state, pod_uid, request)
        masks = self._masks
        return [masks[i] for i in indices], min_size

    def _shared_hints(self, indices: list[int], min_size: int) -> list[TopologyHint]:
        """Hints for mask indices, as shared immutable objects made once per mask and flag
        (building tens of thousands of frozen dataclasses per call is slow)."""
        masks = self._masks
        counts = self._counts
        out: list[TopologyHint] = []
        for i in indices:
            mask = masks[i]
            preferred = counts[i] == min_size
            cache = _SHARED_HINTS[preferred]
            hint = cache.get(mask)
            if hint is None:
                if len(cache) >= _SHARED_HINTS_LIMIT:
                    cache.clear()
                hint = cache[mask] = TopologyHint(mask, preferred)
            out.append(hint)
        return out

    def calculate_hints(
        self, state: MemoryState, pod_uid: str, request: Mapping[str, int]
    ) -> dict[str, list[TopologyHint]]:
        """Kubelet ``calculateHints``: identical hint lists for every requested resource.

        ``preferred`` marks the masks as narrow as the narrowest one that could ever hold the request
        (capacity, not availability). No feasible mask gives an empty map, not ``None``.
        """
        indices, min_size = self.calculate_hint_indices(state, pod_uid, request)
        if not indices or not request:
            return {}
        hints = self._shared_hints(indices, min_size)
        return {resource: list(hints) for resource in request}

    def _regenerate_hints(self, blocks: list[Block], request: Mapping[str, int]) -> ProviderHints:
        """Kubelet ``regenerateHints``: one preferred hint per existing block, or ``None`` on any mismatch."""
        hints: dict[str, list[TopologyHint]] = {resource: [] for resource in request}
        if len(blocks) != len(request):
            return None
        for block in blocks:
            if block.type not in request or block.size != request[block.type]:
                return None
            hints[block.type].append(TopologyHint(mask_of(block.numa_affinity), True))
        return hints

    def get_topology_hints(self, state: MemoryState, pod: Pod, container: Container) -> ProviderHints:
        """Kubelet ``staticPolicy.GetTopologyHints`` (container scope)."""
        if pod.qos_class != QOS_GUARANTEED:
            return None
        try:
            request = get_requested_resources(pod, container)
        except AllocationError:
            return None
        if pod.has_pod_level_resources:
            return None
        blocks = state.get_memory_blocks(pod.uid, container.name)
        if blocks is not None:
            return self._regenerate_hints(blocks, request)
        return self.calculate_hints(state, pod.uid, request)

    def get_pod_topology_hints(self, state: MemoryState, pod: Pod) -> ProviderHints:
        """Kubelet ``staticPolicy.GetPodTopologyHints`` (pod scope)."""
        if pod.qos_class != QOS_GUARANTEED:
            return None
        try:
            request = get_pod_requested_resources(pod)
        except AllocationError:
            return None
        if pod.has_pod_level_resources:
            return None
        for container in pod.all_containers:
            blocks = state.get_memory_blocks(pod.uid, container.name)
            if blocks is not None:
                # Compares this one container's blocks with the whole pod's request (upstream quirk).
                return self._regenerate_hints(blocks, request)
        return self.calculate_hints(state, pod.uid, request)

    # -- allocation --------------------------------------------------------------------------------

    def _satisfies(self, state: MemoryState, mask: int, request: Mapping[str, int]) -> bool:
        """Kubelet ``isAffinitySatisfyRequest``: free memory only (reusable memory is not counted)."""
        bits = self.mask_bits(mask)
        for resource, size in request.items():
            if sum(self._table(state, n, resource).free for n in bits) < size:
                return False
        return True

    def _violates_groups(self, state: MemoryState, mask: int) -> bool:
        """Kubelet ``isAffinityViolatingNUMAAllocations`` (single-node masks never violate)."""
        bits = self.mask_bits(mask)
        if len(bits) == 1:
            return False
        for node_id in bits:
            node = state.machine_state[node_id]
            if node.number_of_assignments == 0:
                continue
            if len(node.cells) == 1 or sorted(node.cells) != bits:
                return True
        return False

    def _default_hint(self, state: MemoryState, pod_uid: str, request: Mapping[str, int]) -> TopologyHint:
        """Kubelet ``getDefaultHint``."""
        hints = self.calculate_hints(state, pod_uid, request)
        if not hints:
            raise AllocationError(ERR_DEFAULT_AFFINITY)
        # Every resource has the same list; the kubelet reads the regular-memory one.
        return find_best_hint(hints.get("memory"))

    def _extend_hint(
        self, state: MemoryState, pod_uid: str, request: Mapping[str, int], mask: int
    ) -> TopologyHint:
        """Kubelet ``extendTopologyManagerHint``: the best feasible mask that contains ``mask``."""
        hints = self.calculate_hints(state, pod_uid, request)
        candidates = [
            h
            for h in hints.get("memory", ())
            if h.numa_affinity is not None and h.numa_affinity & mask == mask
        ]
        if not candidates:
            raise AllocationError(ERR_EXTEND)
        return find_best_hint(candidates)

    def _fill(self, state: MemoryState, bits: list[int], resource: str, size: int) -> None:
        """Kubelet ``updateMachineState``: count the block on every node, take memory lowest id first."""
        for node_id in bits:
            node = state.machine_state[node_id]
            node.number_of_assignments += 1
            node.cells = bits
            if size == 0:
                continue
            table = self._table(state, node_id, resource)
            if table.free <= 0:
                continue
            take = min(table.free, size)
            table.reserved += take
            table.free -= take
            size -= take

    def allocate(self, state: MemoryState, pod: Pod, container: Container, hint: TopologyHint) -> None:
        """Kubelet ``staticPolicy.Allocate`` (idempotent); raises :class:`AllocationError`."""
        if pod.qos_class != QOS_GUARANTEED or pod.has_pod_level_resources:
            return
        self.metrics.pinning_requests += 1
        try:
            self._allocate(state, pod, container, hint)
        except AllocationError:
            self.metrics.pinning_errors += 1
            raise

    def _allocate(self, state: MemoryState, pod: Pod, container: Container, hint: TopologyHint) -> None:
        existing = state.get_memory_blocks(pod.uid, container.name)
        if existing is not None:
            self.update_pod_reusable_memory(pod, container, existing)
            return
        request = get_requested_resources(pod, container)
        best = hint
        if hint.numa_affinity is None:
            default = self._default_hint(state, pod.uid, request)
            if hint.preferred and not default.preferred:
                raise AllocationError(ERR_DEFAULT_PREFERRED)
            best = default
        if best.numa_affinity is None:
            # findBestHint found no regular-memory hint; Go then dereferences the nil mask.
            raise KubeletPanic(NIL_POINTER_PANIC)
        if not self._satisfies(state, best.numa_affinity, request):
            extended = self._extend_hint(state, pod.uid, request, best.numa_affinity)
            if best.preferred and not extended.preferred:
                raise AllocationError(ERR_EXTENDED_PREFERRED)
            best = extended
        assert best.numa_affinity is not None
        if self._violates_groups(state, best.numa_affinity):
            raise AllocationError(ERR_VIOLATES_GROUPS)

        bits = self.mask_bits(best.numa_affinity)
        blocks: list[Block] = []
        for resource, size in request.items():
            blocks.append(Block(bits, resource, size))
            reusable = self.get_pod_reusable_memory(pod.uid, best.numa_affinity, resource)
            self._fill(state, bits, resource, 0 if reusable >= size else size - reusable)
        state.touch(bits)
        self.update_pod_reusable_memory(pod, container, blocks)
        state.set_memory_blocks(pod.uid, container.name, blocks)
        self.update_init_containers_memory_blocks(state, pod, container, blocks)

    def update_pod_reusable_memory(self, pod: Pod, container: Container, blocks: list[Block]) -> None:
        """Kubelet ``updatePodReusableMemory``: only the current pod's entries survive.

        A regular init container makes its blocks reusable (the largest size per mask and type); any
        other container consumes what it overlaps on exactly the same mask.
        """
        for uid in [uid for uid in self.reusable if uid != pod.uid]:
            del self.reusable[uid]
        if _is_regular_init_container(pod, container):
            by_mask = self.reusable.setdefault(pod.uid, {})
            for block in blocks:
                by_type = by_mask.setdefault(mask_of(block.numa_affinity), {})
                if block.size > by_type.get(block.type, 0):
                    by_type[block.type] = block.size
            return
        for block in blocks:
            mask = mask_of(block.numa_affinity)
            reusable = self.get_pod_reusable_memory(pod.uid, mask, block.type)
            if reusable != 0:
                by_type = self.reusable[pod.uid][mask]
                by_type[block.type] = 0 if block.size >= reusable else reusable - block.size

    def update_init_containers_memory_blocks(
        self, state: MemoryState, pod: Pod, container: Container, blocks: list[Block]
    ) -> None:
        """Kubelet ``updateInitContainersMemoryBlocks``: shrink earlier init blocks by what was reused.

        Bookkeeping only, so that the pod's block sizes add up to what is really reserved.
        """
        for block in blocks:
            remaining = block.size
            for init in pod.init_containers:
                if init.name == container.name or remaining == 0:
                    break
                if init.restartable:
                    continue
                init_blocks = state.get_memory_blocks(pod.uid, init.name)
                if not init_blocks:
                    continue
                updated = [b.copy() for b in init_blocks]
                for init_block in updated:
                    if init_block.size == 0 or init_block.type != block.type:
                        continue
                    if init_block.numa_affinity != block.numa_affinity:
                        continue
                    if init_block.size > remaining:
                        init_block.size -= remaining
                        remaining = 0
                    else:
                        remaining -= init_block.size
                        init_block.size = 0
                state.set_memory_blocks(pod.uid, init.name, updated)

    # -- removal -------------------------------------------------------------------------------

    def remove_container(self, state: MemoryState, pod_uid: str, container_name: str) -> None:
        """Kubelet ``staticPolicy.RemoveContainer``: give the blocks back, lowest NUMA id first.

        A node whose assignment count drops to 0 leaves its NUMA group (``cells`` back to itself).
        """
        blocks = state.get_memory_blocks(pod_uid, container_name)
        if blocks is None:
            return
        state.delete(pod_uid, container_name)
        for block in blocks:
            released = block.size
            for node_id in block.numa_affinity:
                node = state.machine_state[node_id]
                node.number_of_assignments -= 1
                if node.number_of_assignments == 0:
                    node.cells = [node_id]
                if released == 0:
                    continue
                table = self._table(state, node_id, block.type)
                if table.reserved == 0:
                    continue
                give = min(table.reserved, released)
                table.free += give
                table.reserved -= give
                released -= give
        state.touch(sorted({node_id for block in blocks for node_id in block.numa_affinity}))

    def get_allocatable_memory(self, state: MemoryState) -> list[Block]:
        """Kubelet ``staticPolicy.GetAllocatableMemory``: one block per node and non-empty table."""
        return [
            Block([node_id], name, table.allocatable)
            for node_id, node in sorted(state.machine_state.items())
            for name, table in sorted(node.memory_map.items())
            if table.allocatable != 0
        ]


def new_policy(
    name: str,
    nodes: Sequence[tuple[int, int, Mapping[str, int]]],
    system_reserved: SystemReserved | None,
    metrics: Metrics | None = None,
) -> StaticPolicy | NonePolicy:
    """The policy switch of kubelet ``memorymanager.NewManager``, after ``allocator.config.validate``
    settled the configuration (``system_reserved`` is ``None`` for the None policy)."""
    if name == POLICY_NONE or system_reserved is None:
        return NonePolicy()
    return StaticPolicy(nodes, system_reserved, metrics)
