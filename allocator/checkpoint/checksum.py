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


def fnv1a_32(data: bytes) -> int:
    """``hash/fnv.New32a`` over ``data``."""
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def _spew_ints(values: list[int] | None) -> str:
    return "<nil>" if values is None else "[" + " ".join(str(v) for v in values) + "]"


def _spew_table(table: MemoryTable | None) -> str:
    # A nil pointer stored as a map value prints as a bare <nil>; a non-nil one as <*>{...}.
    if table is None:
        return "<nil>"
    return (
        f"<*>{{TotalMemSize:(uint64){table.total} SystemReserved:(uint64){table.system_reserved} "
        f"Allocatable:(uint64){table.allocatable} Reserved:(uint64){table.reserved} "
        f"Free:(uint64){table.free}}}"
    )


def _spew_node(node: NUMANodeState | None) -> str:
    if node is None:
        return "<nil>"
    if node.memory_map is None:
        memory_map = "<nil>"
    else:
        # go-spew SortKeys: strings sort bytewise.
        items = sorted(node.memory_map.items(), key=lambda kv: kv[0].encode())
        memory_map = "map[" + " ".join(f"{name}:{_spew_table(t)}" for name, t in items) + "]"
    return (
        f"<*>{{NumberOfAssignments:(int){node.number_of_assignments} "
        f"MemoryMap:(map[v1.ResourceName]*state.MemoryTable){memory_map} "
        f"Cells:([]int){_spew_ints(node.cells)}}}"
    )


def _spew_block(block: Block) -> str:
    return (
        f"{{NUMAAffinity:([]int){_spew_ints(block.numa_affinity)} Type:(v1.ResourceName){block.type} "
        f"Size:(uint64){block.size}}}"
    )


def _spew_entries(entries: dict[str, dict[str, list[Block] | None] | None] | None) -> str:
    if entries is None:
        return "<nil>"
    pods = []
    for uid, containers in sorted(entries.items(), key=lambda kv: kv[0].encode()):
        if containers is None:
            pods.append(f"{uid}:<nil>")
            continue
        ctrs = []
        for name, blocks in sorted(containers.items(), key=lambda kv: kv[0].encode()):
            rendered = "<nil>" if blocks is None else "[" + " ".join(_spew_block(b) for b in blocks) + "]"
            ctrs.append(f"{name}:{rendered}")
        pods.append(f"{uid}:map[" + " ".join(ctrs) + "]")
    return "map[" + " ".join(pods) + "]"


def for_hash(cp: Checkpoint, type_name: str = LEGACY_TYPE) -> str:
    """``dump.ForHash(cp)`` with ``Checksum`` taken as 0, naming the struct ``type_name``.

    The kubelet hashes with the V1 name and then replaces its first occurrence with the legacy
    ``MemoryManagerCheckpoint`` (so older kubelets can still read the file); ``type_name`` picks either.
    """
    if cp.machine_state is None:
        machine = "<nil>"
    else:
        # NUMA ids are Go ints: sorted numerically here, unlike the JSON keys.
        machine = (
            "map[" + " ".join(f"{nid}:{_spew_node(n)}" for nid, n in sorted(cp.machine_state.items())) + "]"
        )
    return (
        f"(*state.{type_name}){{PolicyName:(string){cp.policy_name} "
        f"MachineState:(state.NUMANodeMap){machine} "
        f"Entries:(state.ContainerMemoryAssignments){_spew_entries(cp.entries)} "
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
