"""``encoding/json`` marshalling, exactly as ``json.Marshal`` writes the V1 checkpoint struct.

Struct fields in declaration order, map keys sorted as strings, HTML-safe string escaping.
"""

from __future__ import annotations

from allocator.checkpoint.checksum import compute_checksum
from allocator.checkpoint.document import Block, Checkpoint, MemoryTable, NUMANodeState
from allocator.checkpoint.printer import JSON, MEMORY_TABLE_FIELDS
from allocator.checkpoint.restore import decode_checkpoint
from allocator.gotext import GO_SHORT_ESCAPES, quote_runes

# encodeState.string: \a and \v have no short form in JSON, they are written as \u00XX.
_JSON_SHORT_ESCAPES = {ch: GO_SHORT_ESCAPES[ch] for ch in '"\\\n\r\t\b\f'}


def _json_rune(ch: str) -> str:
    # encodeState.string with HTML escaping (the Marshal default).
    code = ord(ch)
    if ch in _JSON_SHORT_ESCAPES:
        return _JSON_SHORT_ESCAPES[ch]
    if code < 0x20 or ch in "<>&" or code in (0x2028, 0x2029):
        return f"\\u{code:04x}"
    if 0xD800 <= code <= 0xDFFF:
        return "\\ufffd"  # invalid UTF-8 is written as the replacement character
    return ch


def _go_json_string(s: str) -> str:
    """``encoding/json`` string encoding with HTML escaping (the Marshal default)."""
    return quote_runes(s, _json_rune)


def _json_table(table: MemoryTable | None) -> str:
    if table is None:
        return JSON.nil
    return JSON.struct((f'"{name}"', str(getattr(table, attr))) for _, name, attr in MEMORY_TABLE_FIELDS)


def _json_node(node: NUMANodeState | None) -> str:
    if node is None:
        return JSON.nil
    return JSON.struct(
        (
            ('"numberOfAssignments"', str(node.number_of_assignments)),
            ('"memoryMap"', JSON.sorted_map(node.memory_map, _go_json_string, _json_table)),
            ('"cells"', JSON.seq(node.cells)),
        )
    )


def _json_block(block: Block) -> str:
    return JSON.struct(
        (
            ('"numaAffinity"', JSON.seq(block.numa_affinity)),
            ('"type"', _go_json_string(block.type)),
            ('"size"', str(block.size)),
        )
    )


def _json_containers(containers: dict[str, list[Block] | None] | None) -> str:
    return JSON.sorted_map(containers, _go_json_string, lambda blocks: JSON.seq(blocks, _json_block))


def _numa_id_text(item: tuple[int, object]) -> str:
    return str(item[0])


def marshal_checkpoint(cp: Checkpoint) -> str:
    """``MemoryManagerCheckpointV1.MarshalCheckpoint`` as the kubelet writes it.

    The checksum is the legacy-name hash; there is no trailing newline.
    """
    fields = [
        ('"policyName"', _go_json_string(cp.policy_name)),
        # JSON object keys are strings, so NUMA ids sort as strings here ("10" before "2").
        (
            '"machineState"',
            JSON.sorted_map(cp.machine_state, lambda nid: f'"{nid}"', _json_node, _numa_id_text),
        ),
    ]
    if cp.entries:  # omitempty: a nil or empty map is left out
        fields.append(('"entries"', JSON.sorted_map(cp.entries, _go_json_string, _json_containers)))
    fields.append(('"checksum"', str(compute_checksum(cp))))
    return JSON.struct(fields)


def reencode_checkpoint(text: str | bytes) -> str:
    """Decode (and verify) a file, then write it back as the kubelet's ``MarshalCheckpoint`` would."""
    return marshal_checkpoint(decode_checkpoint(text))
