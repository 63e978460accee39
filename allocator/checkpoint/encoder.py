"""``encoding/json`` marshalling, exactly as ``json.Marshal`` writes the V1 checkpoint struct.

Struct fields in declaration order, map keys sorted as strings, HTML-safe string escaping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from allocator.checkpoint.checksum import compute_checksum
from allocator.checkpoint.document import Block, Checkpoint, MemoryTable, NUMANodeState
from allocator.checkpoint.restore import decode_checkpoint
from allocator.gotext import GO_SHORT_ESCAPES

# encodeState.string: \a and \v have no short form in JSON, they are written as \u00XX.
_JSON_SHORT_ESCAPES = {ch: GO_SHORT_ESCAPES[ch] for ch in '"\\\n\r\t\b\f'}


def _go_json_string(s: str) -> str:
    """``encoding/json`` string encoding with HTML escaping (the Marshal default)."""
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch in _JSON_SHORT_ESCAPES:
            out.append(_JSON_SHORT_ESCAPES[ch])
        elif cp < 0x20 or ch in "<>&" or cp in (0x2028, 0x2029):
            out.append(f"\\u{cp:04x}")
        elif 0xD800 <= cp <= 0xDFFF:
            out.append("\\ufffd")  # invalid UTF-8 is written as the replacement character
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_ints(values: list[int] | None) -> str:
    return "null" if values is None else "[" + ",".join(str(v) for v in values) + "]"


def _json_table(table: MemoryTable | None) -> str:
    if table is None:
        return "null"
    return (
        f'{{"total":{table.total},"systemReserved":{table.system_reserved},"allocatable":{table.allocatable},'
        f'"reserved":{table.reserved},"free":{table.free}}}'
    )


def _json_str_map(items: Mapping[str, Any] | None, render: Any) -> str:
    # Go sorts map keys by their (UTF-8) string form.
    if items is None:
        return "null"
    parts = [
        f"{_go_json_string(k)}:{render(v)}" for k, v in sorted(items.items(), key=lambda kv: kv[0].encode())
    ]
    return "{" + ",".join(parts) + "}"


def _json_node(node: NUMANodeState | None) -> str:
    if node is None:
        return "null"
    return (
        f'{{"numberOfAssignments":{node.number_of_assignments},'
        f'"memoryMap":{_json_str_map(node.memory_map, _json_table)},"cells":{_json_ints(node.cells)}}}'
    )


def _json_blocks(blocks: list[Block] | None) -> str:
    if blocks is None:
        return "null"
    rendered = [
        f'{{"numaAffinity":{_json_ints(b.numa_affinity)},"type":{_go_json_string(b.type)},"size":{b.size}}}'
        for b in blocks
    ]
    return "[" + ",".join(rendered) + "]"


def marshal_checkpoint(cp: Checkpoint) -> str:
    """``MemoryManagerCheckpointV1.MarshalCheckpoint`` as the kubelet writes it.

    The checksum is the legacy-name hash; there is no trailing newline.
    """
    checksum = compute_checksum(cp)
    parts = [f'"policyName":{_go_json_string(cp.policy_name)}']
    if cp.machine_state is None:
        parts.append('"machineState":null')
    else:
        # JSON object keys are strings, so NUMA ids sort as strings here ("10" before "2").
        nodes = sorted(cp.machine_state.items(), key=lambda kv: str(kv[0]))
        parts.append('"machineState":{' + ",".join(f'"{nid}":{_json_node(n)}' for nid, n in nodes) + "}")
    if cp.entries:  # omitempty: a nil or empty map is left out
        parts.append('"entries":' + _json_str_map(cp.entries, lambda ctrs: _json_str_map(ctrs, _json_blocks)))
    parts.append(f'"checksum":{checksum}')
    return "{" + ",".join(parts) + "}"


def reencode_checkpoint(text: str | bytes) -> str:
    """Decode (and verify) a file, then write it back as the kubelet's ``MarshalCheckpoint`` would."""
    return marshal_checkpoint(decode_checkpoint(text))
