"""The kubelet's ``memory_manager_state`` checkpoint file, byte for byte.

Mirrors ``pkg/kubelet/cm/memorymanager/state/checkpoint.go`` (``MemoryManagerCheckpointV1``:
``MarshalCheckpoint``, ``UnmarshalCheckpoint``, ``VerifyChecksum``), ``state_checkpoint.go``
(``NewCheckpointState``/``restoreState``) and ``pkg/kubelet/checkpointmanager/checksum``.

Three Go behaviours are reproduced because the file's bytes and the kubelet's error texts depend on them,
one module each:

* :mod:`.scanner` and :mod:`.decoder` -- ``encoding/json``'s syntax scanner (its exact ``invalid character
  ...`` texts) and decoder (case-insensitive field names, unknown fields ignored, ``null`` handling, first
  ``UnmarshalTypeError`` wins); :mod:`.encoder` -- its encoder (struct field order, map keys sorted as
  strings, HTML-safe escaping).
* :mod:`.checksum` -- ``k8s.io/utils/dump.ForHash`` (go-spew ``%#v`` with sorted keys, no pointer
  addresses, no capacities) and FNV-1a 32-bit over it, with the legacy type name ``MemoryManagerCheckpoint``
  (what the kubelet writes) or the V1 name (which it also accepts).

:mod:`.document` holds the checkpoint types, :mod:`.restore` the read path (``UnmarshalCheckpoint``,
``GetCheckpoint``, ``restoreState``) and :mod:`.convert` the engine-facing helpers between a decoded
:class:`Checkpoint` and the vectors' state / numa_groups / checkpoint dicts. Every name is re-exported
here, where callers import it from.
"""

from __future__ import annotations

from allocator.checkpoint.checksum import compute_checksum, fnv1a_32, for_hash, verify_checksum
from allocator.checkpoint.convert import (
    checkpoint_to_assignments,
    checkpoint_to_dict,
    checkpoint_to_numa_groups,
    checkpoint_to_state,
    encode_checkpoint,
    entries_from_dict,
    machine_state_from_checkpoint_dict,
    machine_state_from_dicts,
)
from allocator.checkpoint.document import (
    CORRUPT_CHECKPOINT,
    DEFAULT_STATE_FILE,
    Block,
    Checkpoint,
    CheckpointError,
    CheckpointNotFoundError,
    MemoryTable,
    NUMANodeState,
)
from allocator.checkpoint.encoder import marshal_checkpoint, reencode_checkpoint
from allocator.checkpoint.restore import (
    decode_checkpoint,
    policy_mismatch,
    restore_checkpoint,
    restore_error,
    unmarshal_checkpoint,
)
from allocator.checkpoint.scanner import check_valid_json

__all__ = [
    "CORRUPT_CHECKPOINT",
    "DEFAULT_STATE_FILE",
    "Block",
    "Checkpoint",
    "CheckpointError",
    "CheckpointNotFoundError",
    "MemoryTable",
    "NUMANodeState",
    "check_valid_json",
    "checkpoint_to_assignments",
    "checkpoint_to_dict",
    "checkpoint_to_numa_groups",
    "checkpoint_to_state",
    "compute_checksum",
    "decode_checkpoint",
    "encode_checkpoint",
    "entries_from_dict",
    "fnv1a_32",
    "for_hash",
    "machine_state_from_checkpoint_dict",
    "machine_state_from_dicts",
    "marshal_checkpoint",
    "policy_mismatch",
    "reencode_checkpoint",
    "restore_checkpoint",
    "restore_error",
    "unmarshal_checkpoint",
    "verify_checksum",
]
