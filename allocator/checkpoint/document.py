"""The checkpoint document: ``state.MemoryManagerCheckpointV1`` and the types it holds.

Mirrors ``pkg/kubelet/cm/memorymanager/state/checkpoint.go`` and ``state.go``. ``None`` stands for a Go
nil map / slice / pointer: they are rendered differently from empty ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_STATE_FILE = "/var/lib/kubelet/memory_manager_state"
CORRUPT_CHECKPOINT = "checkpoint is corrupted"

V1_TYPE = "MemoryManagerCheckpointV1"
LEGACY_TYPE = "MemoryManagerCheckpoint"


class CheckpointError(Exception):
    """The checkpoint manager refused the file; ``message`` is the Go error text (unwrapped)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CheckpointNotFoundError(CheckpointError):
    """``errors.ErrCheckpointNotFound``: there is no file (the kubelet then writes a fresh one)."""

    def __init__(self) -> None:
        super().__init__("checkpoint is not found")


@dataclass(slots=True)
class MemoryTable:
    """``state.MemoryTable``."""

    total: int = 0
    system_reserved: int = 0
    allocatable: int = 0
    reserved: int = 0
    free: int = 0


@dataclass(slots=True)
class NUMANodeState:
    """``state.NUMANodeState``."""

    number_of_assignments: int = 0
    memory_map: dict[str, MemoryTable | None] | None = None
    cells: list[int] | None = None


@dataclass(slots=True)
class Block:
    """``state.Block``."""

    numa_affinity: list[int] | None = None
    type: str = ""
    size: int = 0


@dataclass(slots=True)
class Checkpoint:
    """``state.MemoryManagerCheckpointV1``.

    A fresh one has empty (not nil) maps, like ``newMemoryManagerCheckpointV1``.
    """

    policy_name: str = ""
    machine_state: dict[int, NUMANodeState | None] | None = field(default_factory=dict)
    entries: dict[str, dict[str, list[Block] | None] | None] | None = field(default_factory=dict)
    checksum: int = 0
