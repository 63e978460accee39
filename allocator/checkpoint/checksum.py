"""The checkpoint's checksum: FNV-1a 32-bit over the go-spew dump of ``k8s.io/utils/dump.ForHash``.

Mirrors ``pkg/kubelet/checkpointmanager/checksum`` and ``MemoryManagerCheckpointV1.VerifyChecksum``.
The dump is go-spew ``%#v`` with sorted keys, no pointer addresses and no capacities.
"""

from __future__ import annotations

from allocator.checkpoint.document import (
    CORRUPT_CHECKPOINT,
    LEGACY_TYPE,
    V1_TYPE,
    Block,
    Checkpoint,
    CheckpointError,
    MemoryTable,
    NUMANodeState,
)
from allocator.checkpoint.printer import MEMORY_TABLE_FIELDS, SPEW


def _numa_id(item: tuple[int, object]) -> int:
    return item[0]


def fnv1a_32(data: bytes) -> int:
    """``hash/fnv.New32a`` over ``data``."""
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def _spew_table(table: MemoryTable | None) -> str:
    # A nil pointer stored as a map value prints as a bare <nil>; a non-nil one as <*>{...}.
    if table is None:
        return SPEW.nil
    return "<*>" + SPEW.struct(
        (go_name, f"(uint64){getattr(table, attr)}") for go_name, _, attr in MEMORY_TABLE_FIELDS
    )


def _spew_node(node: NUMANodeState | None) -> str:
    if node is None:
        return SPEW.nil
    # go-spew SortKeys: strings sort bytewise; map keys print bare.
    memory_map = SPEW.sorted_map(node.memory_map, str, _spew_table)
    return "<*>" + SPEW.struct(
        (
            ("NumberOfAssignments", f"(int){node.number_of_assignments}"),
            ("MemoryMap", f"(map[v1.ResourceName]*state.MemoryTable){memory_map}"),
            ("Cells", f"([]int){SPEW.seq(node.cells)}"),
        )
    )


def _spew_block(block: Block) -> str:
    return SPEW.struct(
        (
            ("NUMAAffinity", f"([]int){SPEW.seq(block.numa_affinity)}"),
            ("Type", f"(v1.ResourceName){block.type}"),
            ("Size", f"(uint64){block.size}"),
        )
    )


def _spew_containers(containers: dict[str, list[Block] | None] | None) -> str:
    return SPEW.sorted_map(containers, str, lambda blocks: SPEW.seq(blocks, _spew_block))


def for_hash(cp: Checkpoint, type_name: str = LEGACY_TYPE) -> str:
    """``dump.ForHash(cp)`` with ``Checksum`` taken as 0, naming the struct ``type_name``.

    The kubelet hashes with the V1 name and then replaces its first occurrence with the legacy
    ``MemoryManagerCheckpoint`` (so older kubelets can still read the file); ``type_name`` picks either.
    """
    # NUMA ids are Go ints: sorted numerically here, unlike the JSON keys.
    machine = SPEW.sorted_map(cp.machine_state, str, _spew_node, order=_numa_id)
    return (
        f"(*state.{type_name}){{PolicyName:(string){cp.policy_name} "
        f"MachineState:(state.NUMANodeMap){machine} "
        f"Entries:(state.ContainerMemoryAssignments){SPEW.sorted_map(cp.entries, str, _spew_containers)} "
        "Checksum:(checksum.Checksum)0}"
    )


def compute_checksum(cp: Checkpoint, type_name: str = LEGACY_TYPE) -> int:
    """The checksum the kubelet writes (legacy type name) or, with ``V1_TYPE``, ``checksum.New(cp)``."""
    return fnv1a_32(for_hash(cp, type_name).encode("utf-8", "surrogatepass"))


def verify_checksum(cp: Checkpoint) -> None:
    """``MemoryManagerCheckpointV1.VerifyChecksum`` with the PodLevelResourceManagers gate off.

    0 is accepted unchecked (old file backend); otherwise the V1-name hash, then the legacy-name hash.
    """
    if cp.checksum == 0:
        return
    if cp.checksum in (compute_checksum(cp, V1_TYPE), compute_checksum(cp, LEGACY_TYPE)):
        return
    raise CheckpointError(CORRUPT_CHECKPOINT)
