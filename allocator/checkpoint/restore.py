"""Reading the file back at kubelet start-up: ``checkpointManager.GetCheckpoint`` and ``restoreState``.

Mirrors ``pkg/kubelet/cm/memorymanager/state/state_checkpoint.go`` (``NewCheckpointState``).
"""

from __future__ import annotations

from allocator.checkpoint.checksum import verify_checksum
from allocator.checkpoint.decoder import Decoder, parse_tree
from allocator.checkpoint.document import DEFAULT_STATE_FILE, Checkpoint, CheckpointError
from allocator.checkpoint.scanner import GoSyntaxError, check_valid_json
from allocator.gotext import go_quote


def unmarshal_checkpoint(data: str | bytes) -> Checkpoint:
    """``MemoryManagerCheckpointV1.UnmarshalCheckpoint``: ``json.Unmarshal`` into a fresh V1 checkpoint."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        check_valid_json(raw)
    except GoSyntaxError as err:
        raise CheckpointError(str(err)) from None
    decoder = Decoder()
    cp = decoder.checkpoint(parse_tree(raw))
    if decoder.saved_error is not None:
        raise CheckpointError(decoder.saved_error)
    return cp


def decode_checkpoint(text: str | bytes) -> Checkpoint:
    """``checkpointManager.GetCheckpoint``: unmarshal, then verify the checksum.

    Raises :class:`CheckpointError` with the Go text (``unexpected end of JSON input``,
    ``invalid character ...``, ``checkpoint is corrupted``, ``json: cannot unmarshal ...``).
    """
    cp = unmarshal_checkpoint(text)
    verify_checksum(cp)
    return cp


def restore_error(message: str, state_file: str = DEFAULT_STATE_FILE) -> str:
    """The text ``NewCheckpointState`` wraps every restore failure in."""
    return (
        f"could not restore state from checkpoint: {message}, please drain this node and delete the memory "
        f"manager checkpoint file {go_quote(state_file)} before restarting Kubelet"
    )


def policy_mismatch(configured: str, stored: str) -> str:
    """``restoreState``'s error when the file was written under another policy (Go ``%q`` quoting)."""
    return (
        f"[memorymanager] configured policy {go_quote(configured)} differs from state checkpoint policy "
        f"{go_quote(stored)}"
    )


def restore_checkpoint(
    text: str | bytes | None, policy_name: str, state_file: str = DEFAULT_STATE_FILE
) -> Checkpoint | None:
    """``state.NewCheckpointState`` -> ``restoreState``: the checkpoint to start from.

    ``text`` None means there is no file: returns None (the kubelet then stores a fresh state). On failure
    raises :class:`CheckpointError` carrying the full wrapped kubelet text.
    """
    if text is None:
        return None
    try:
        cp = decode_checkpoint(text)
    except CheckpointError as err:
        raise CheckpointError(restore_error(err.message, state_file)) from None
    if cp.policy_name != policy_name:
        raise CheckpointError(restore_error(policy_mismatch(policy_name, cp.policy_name), state_file))
    return cp
