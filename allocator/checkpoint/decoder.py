"""``encoding/json`` decoding into the checkpoint types, with Go's ``UnmarshalTypeError`` texts.

Reproduces what the checkpoint's types reach of ``decodeState``: case-insensitive field names, unknown
fields ignored, ``null`` handling, maps merged into, the first type error wins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from allocator.checkpoint.document import V1_TYPE, Block, Checkpoint, MemoryTable, NUMANodeState
from allocator.checkpoint.printer import MEMORY_TABLE_FIELDS
from allocator.checkpoint.scanner import flatten_deep

_UINT64_MAX = (1 << 64) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class _Num:
    literal: str


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object kept as its ordered (key, value) pairs: Go sees duplicate keys one by one."""


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_tree(data: bytes) -> Any:
    """The syntax-checked document as a tree; containers too deep for the checkpoint's types are emptied."""
    text = flatten_deep(data).decode("utf-8", errors="replace")
    tree = json.loads(
        text,
        object_pairs_hook=_Pairs,
        parse_int=_Num,
        parse_float=_Num,
        parse_constant=_Num,
    )
    return tree


def _fix_string(s: str) -> str:
    # Go turns an unpaired \uD800-style escape into U+FFFD; Python keeps the lone surrogate.
    return _LONE_SURROGATE.sub("\ufffd", s)


def _kind(value: Any) -> str:
    """The ``Value`` word of an ``UnmarshalTypeError`` for a JSON value of the wrong kind."""
    if isinstance(value, _Pairs):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


class Decoder:
    """The parts of ``encoding/json.decodeState`` that the checkpoint's types reach."""

    def __init__(self) -> None:
        self.saved_error: str | None = None
        self.struct = ""
        self.fields: list[str] = []

    def save_type_error(self, value_word: str, go_type: str) -> None:
        # saveError keeps only the first error; addErrorContext names the innermost struct and the
        # JSON field path from the root (map keys are not part of it).
        if self.saved_error is not None:
            return
        if self.struct or self.fields:
            self.saved_error = (
                f"json: cannot unmarshal {value_word} into Go struct field "
                f"{self.struct}.{'.'.join(self.fields)} of type {go_type}"
            )
        else:
            self.saved_error = f"json: cannot unmarshal {value_word} into Go value of type {go_type}"

    # -- scalars -------------------------------------------------------------------------------------

    def integer(self, value: Any, current: int, go_type: str, lo: int, hi: int) -> int:
        if value is None:
            return current  # null leaves a non-pointer scalar untouched
        if isinstance(value, _Num):
            literal = value.literal
            # strconv.ParseUint takes no sign at all, not even "-0"; ParseInt takes a leading "-".
            pattern = r"\d+" if lo == 0 else r"-?\d+"
            if re.fullmatch(pattern, literal) and lo <= int(literal) <= hi:
                return int(literal)
            self.save_type_error(f"number {literal}", go_type)
            return current
        self.save_type_error(_kind(value), go_type)
        return current

    def uint64(self, value: Any, current: int, go_type: str = "uint64") -> int:
        return self.integer(value, current, go_type, 0, _UINT64_MAX)

    def int64(self, value: Any, current: int) -> int:
        return self.integer(value, current, "int", _INT64_MIN, _INT64_MAX)

    def string(self, value: Any, current: str, go_type: str) -> str:
        if value is None:
            return current
        if isinstance(value, str):
            return _fix_string(value)
        self.save_type_error(_kind(value), go_type)
        return current

    # -- containers ----------------------------------------------------------------------------------

    def int_slice(self, value: Any, current: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if not isinstance(value, list) or isinstance(value, _Pairs):
            self.save_type_error(_kind(value), "[]int")
            return current
        # Go reuses the existing slice: elements past the old length start at zero.
        old = current or []
        return [self.int64(item, old[i] if i < len(old) else 0) for i, item in enumerate(value)]

    def struct_fields(
        self, value: _Pairs, struct_name: str, names: tuple[str, ...]
    ) -> Iterator[tuple[str, Any]]:
        """Yield (Go json field name, raw value) pairs, setting the error context like ``object()``."""
        saved_struct, saved_depth = self.struct, len(self.fields)
        for key, raw in value:
            name = next((n for n in names if n == key), None)
            if name is None:
                # Go falls back to a case-insensitive match; unknown keys are skipped.
                name = next((n for n in names if n.lower() == _fix_string(key).lower()), None)
            if name is None:
                continue
            self.fields.append(name)
            self.struct = struct_name
            yield name, raw
            del self.fields[saved_depth:]
            self.struct = saved_struct

    def object_pairs(self, value: Any, go_type: str) -> _Pairs | None:
        if isinstance(value, _Pairs):
            return value
        self.save_type_error(_kind(value), go_type)
        return None

    def memory_table(self, value: Any) -> MemoryTable | None:
        if value is None:
            return None
        table = MemoryTable()
        pairs = self.object_pairs(value, "state.MemoryTable")
        if pairs is None:
            return table
        attrs = {json_name: attr for _, json_name, attr in MEMORY_TABLE_FIELDS}
        for name, raw in self.struct_fields(pairs, "MemoryTable", tuple(attrs)):
            setattr(table, attrs[name], self.uint64(raw, getattr(table, attrs[name])))
        return table

    def node_state(self, value: Any) -> NUMANodeState | None:
        if value is None:
            return None
        node = NUMANodeState()
        pairs = self.object_pairs(value, "state.NUMANodeState")
        if pairs is None:
            return node
        for name, raw in self.struct_fields(
            pairs, "NUMANodeState", ("numberOfAssignments", "memoryMap", "cells")
        ):
            if name == "numberOfAssignments":
                node.number_of_assignments = self.int64(raw, node.number_of_assignments)
            elif name == "memoryMap":
                node.memory_map = self.string_map(
                    raw, node.memory_map, "map[v1.ResourceName]*state.MemoryTable", self.memory_table
                )
            else:
                node.cells = self.int_slice(raw, node.cells)
        return node

    def string_map(self, value: Any, current: dict[str, Any] | None, go_type: str, element: Any) -> Any:
        """A Go map with string keys: decoding merges into an existing map, each element starts at zero."""
        if value is None:
            return None
        pairs = self.object_pairs(value, go_type)
        if pairs is None:
            return current
        result = {} if current is None else current
        for key, raw in pairs:
            result[_fix_string(key)] = element(raw)
        return result

    def numa_node_map(self, value: Any, current: dict[int, NUMANodeState | None] | None) -> Any:
        if value is None:
            return None
        pairs = self.object_pairs(value, "state.NUMANodeMap")
        if pairs is None:
            return current
        result = {} if current is None else current
        for key, raw in pairs:
            node = self.node_state(raw)
            # The key is converted after the value is decoded; a bad key drops the entry.
            if re.fullmatch(r"[+-]?\d+", key) and _INT64_MIN <= int(key) <= _INT64_MAX:
                result[int(key)] = node
            else:
                self.save_type_error(f"number {_fix_string(key)}", "int")
        return result

    def block(self, value: Any, current: Block) -> Block:
        if value is None:
            return current
        pairs = self.object_pairs(value, "state.Block")
        if pairs is None:
            return current
        for name, raw in self.struct_fields(pairs, "Block", ("numaAffinity", "type", "size")):
            if name == "numaAffinity":
                current.numa_affinity = self.int_slice(raw, current.numa_affinity)
            elif name == "type":
                current.type = self.string(raw, current.type, "v1.ResourceName")
            else:
                current.size = self.uint64(raw, current.size)
        return current

    def blocks(self, value: Any) -> list[Block] | None:
        if value is None:
            return None
        if not isinstance(value, list) or isinstance(value, _Pairs):
            self.save_type_error(_kind(value), "[]state.Block")
            return None
        return [self.block(item, Block()) for item in value]

    def container_map(self, value: Any) -> dict[str, list[Block] | None] | None:
        return self.string_map(value, None, "map[string][]state.Block", self.blocks)

    def checkpoint(self, value: Any) -> Checkpoint:
        cp = Checkpoint()
        if value is None:
            return cp  # the JSON document `null` decodes to nothing at all
        pairs = self.object_pairs(value, f"state.{V1_TYPE}")
        if pairs is None:
            return cp
        names = ("policyName", "machineState", "entries", "checksum")
        for name, raw in self.struct_fields(pairs, V1_TYPE, names):
            if name == "policyName":
                cp.policy_name = self.string(raw, cp.policy_name, "string")
            elif name == "machineState":
                cp.machine_state = self.numa_node_map(raw, cp.machine_state)
            elif name == "entries":
                cp.entries = self.string_map(
                    raw, cp.entries, "state.ContainerMemoryAssignments", self.container_map
                )
            else:
                cp.checksum = self.uint64(raw, cp.checksum, "checksum.Checksum")
        return cp
