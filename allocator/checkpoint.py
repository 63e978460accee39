"""The kubelet's ``memory_manager_state`` checkpoint file, byte for byte.

Mirrors ``pkg/kubelet/cm/memorymanager/state/checkpoint.go`` (``MemoryManagerCheckpointV1``:
``MarshalCheckpoint``, ``UnmarshalCheckpoint``, ``VerifyChecksum``), ``state_checkpoint.go``
(``NewCheckpointState``/``restoreState``) and ``pkg/kubelet/checkpointmanager/checksum``.

Three Go behaviours are reproduced here because the file's bytes and the kubelet's error texts depend on them:

* ``encoding/json`` -- the syntax scanner (its exact ``invalid character ...`` texts), the decoder (case-
  insensitive field names, unknown fields ignored, ``null`` handling, first ``UnmarshalTypeError`` wins) and
  the encoder (struct field order, map keys sorted as strings, HTML-safe escaping).
* ``k8s.io/utils/dump.ForHash`` -- go-spew ``%#v`` with sorted keys, no pointer addresses, no capacities.
* FNV-1a 32-bit over that dump, with the legacy type name ``MemoryManagerCheckpoint`` (what the kubelet
  writes) or the V1 name (which it also accepts).

The engine-facing helpers at the bottom convert between a decoded :class:`Checkpoint` and the vectors'
state / numa_groups / checkpoint dicts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_STATE_FILE = "/var/lib/kubelet/memory_manager_state"
CORRUPT_CHECKPOINT = "checkpoint is corrupted"

_V1_TYPE = "MemoryManagerCheckpointV1"
_LEGACY_TYPE = "MemoryManagerCheckpoint"
_UINT64_MAX = (1 << 64) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class CheckpointError(Exception):
    """The checkpoint manager refused the file; ``message`` is the Go error text (unwrapped)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CheckpointNotFoundError(CheckpointError):
    """``errors.ErrCheckpointNotFound``: there is no file (the kubelet then writes a fresh one)."""

    def __init__(self) -> None:
        super().__init__("checkpoint is not found")


# --------------------------------------------------------------------------------------------------------
# The checkpoint object (state.MemoryManagerCheckpointV1 and the types it holds).
# ``None`` stands for a Go nil map / slice / pointer: they are rendered differently from empty ones.


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


# --------------------------------------------------------------------------------------------------------
# FNV-1a and the go-spew dump (dump.ForHash).


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


def for_hash(cp: Checkpoint, type_name: str = _LEGACY_TYPE) -> str:
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


def compute_checksum(cp: Checkpoint, type_name: str = _LEGACY_TYPE) -> int:
    """The checksum the kubelet writes (legacy type name) or, with ``_V1_TYPE``, ``checksum.New(cp)``."""
    return fnv1a_32(for_hash(cp, type_name).encode("utf-8", "surrogatepass"))


def verify_checksum(cp: Checkpoint) -> None:
    """``MemoryManagerCheckpointV1.VerifyChecksum`` with the PodLevelResourceManagers gate off.

    0 is accepted unchecked (old file backend); otherwise the V1-name hash, then the legacy-name hash.
    """
    if cp.checksum == 0:
        return
    if cp.checksum in (compute_checksum(cp, _V1_TYPE), compute_checksum(cp, _LEGACY_TYPE)):
        return
    raise CheckpointError(CORRUPT_CHECKPOINT)


# --------------------------------------------------------------------------------------------------------
# encoding/json: the scanner, for the exact syntax-error texts.


class _GoSyntaxError(Exception):
    pass


def _quote_char(c: int) -> str:
    """``encoding/json.quoteChar``: the offending byte as Go prints it."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    return "'" + _go_quote(chr(c))[1:-1] + "'"


def _go_quote(s: str) -> str:
    """``strconv.Quote`` for the characters a single byte can become (U+0000..U+00FF)."""
    out = []
    for ch in s:
        cp = ord(ch)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\v":
            out.append("\\v")
        elif cp < 0x20 or cp == 0x7F:
            out.append(f"\\x{cp:02x}")
        elif 0x80 <= cp < 0xA0 or cp == 0xAD:
            # Not printable in Go's unicode tables (C1 controls, soft hyphen).
            out.append(f"\\u{cp:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_SPACE = frozenset(b" \t\r\n")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")


def check_valid_json(data: bytes) -> None:
    """``encoding/json.checkValid``: raise ``_GoSyntaxError`` with Go's text for the first syntax error.

    A direct walk of the scanner's states; ``pos`` only ever moves forward, as the Go state machine does.
    """
    n = len(data)
    pos = 0

    def fail(context: str, eof_as_space: bool = False) -> None:
        # At the end of input Go's eof() feeds one more ' ': states inside a literal, a number or an
        # escape reject it with their own text, the others end with "unexpected end of JSON input".
        if pos >= n:
            if eof_as_space:
                raise _GoSyntaxError(f"invalid character ' ' {context}")
            raise _GoSyntaxError("unexpected end of JSON input")
        raise _GoSyntaxError(f"invalid character {_quote_char(data[pos])} {context}")

    def skip_space() -> None:
        nonlocal pos
        while pos < n and data[pos] in _SPACE:
            pos += 1

    def literal(word: bytes) -> None:
        nonlocal pos
        pos += 1
        for expected in word[1:]:
            if pos >= n or data[pos] != expected:
                fail(f"in literal {word.decode()} (expecting {_quote_char(expected)})", True)
            pos += 1

    def string() -> None:
        nonlocal pos
        pos += 1  # opening quote
        while True:
            if pos >= n:
                fail("")
            c = data[pos]
            if c == ord('"'):
                pos += 1
                return
            if c == ord("\\"):
                pos += 1
                if pos >= n:
                    fail("in string escape code", True)
                if data[pos] in b'bfnrt\\/"':
                    pos += 1
                elif data[pos] == ord("u"):
                    pos += 1
                    for _ in range(4):
                        if pos >= n or data[pos] not in _HEX:
                            fail("in \\u hexadecimal character escape", True)
                        pos += 1
                else:
                    fail("in string escape code", True)
            elif c < 0x20:
                fail("in string literal")
            else:
                pos += 1

    def number() -> None:
        nonlocal pos
        if data[pos] == ord("-"):
            pos += 1
            if pos >= n or data[pos] not in _DIGITS:
                fail("in numeric literal", True)
        if data[pos] == ord("0"):
            pos += 1
        else:
            while pos < n and data[pos] in _DIGITS:
                pos += 1
        if pos < n and data[pos] == ord("."):
            pos += 1
            if pos >= n or data[pos] not in _DIGITS:
                fail("after decimal point in numeric literal", True)
            while pos < n and data[pos] in _DIGITS:
                pos += 1
        if pos < n and data[pos] in b"eE":
            pos += 1
            if pos < n and data[pos] in b"+-":
                pos += 1
            if pos >= n or data[pos] not in _DIGITS:
                fail("in exponent of numeric literal", True)
            while pos < n and data[pos] in _DIGITS:
                pos += 1

    def value() -> None:
        nonlocal pos
        skip_space()
        if pos >= n:
            fail("")
        c = data[pos]
        if c == ord("{"):
            pos += 1
            skip_space()
            if pos < n and data[pos] == ord("}"):
                pos += 1
                return
            while True:
                skip_space()
                if pos >= n or data[pos] != ord('"'):
                    fail("looking for beginning of object key string")
                string()
                skip_space()
                if pos >= n or data[pos] != ord(":"):
                    fail("after object key")
                pos += 1
                value()
                skip_space()
                if pos < n and data[pos] == ord(","):
                    pos += 1
                    continue
                if pos < n and data[pos] == ord("}"):
                    pos += 1
                    return
                fail("after object key:value pair")
        elif c == ord("["):
            pos += 1
            skip_space()
            if pos < n and data[pos] == ord("]"):
                pos += 1
                return
            while True:
                value()
                skip_space()
                if pos < n and data[pos] == ord(","):
                    pos += 1
                    continue
                if pos < n and data[pos] == ord("]"):
                    pos += 1
                    return
                fail("after array element")
        elif c == ord('"'):
            string()
        elif c == ord("-") or c in _DIGITS:
            number()
        elif c == ord("t"):
            literal(b"true")
        elif c == ord("f"):
            literal(b"false")
        elif c == ord("n"):
            literal(b"null")
        else:
            fail("looking for beginning of value")

    value()
    skip_space()
    if pos < n:
        fail("after top-level value")


# --------------------------------------------------------------------------------------------------------
# encoding/json: decoding into the checkpoint types, with Go's UnmarshalTypeError texts.


@dataclass(frozen=True, slots=True)
class _Num:
    literal: str


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object kept as its ordered (key, value) pairs: Go sees duplicate keys one by one."""


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _parse_tree(data: bytes) -> Any:
    text = data.decode("utf-8", errors="replace")
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


class _Decoder:
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
        attrs = {
            "total": "total",
            "systemReserved": "system_reserved",
            "allocatable": "allocatable",
            "reserved": "reserved",
            "free": "free",
        }
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
        pairs = self.object_pairs(value, f"state.{_V1_TYPE}")
        if pairs is None:
            return cp
        names = ("policyName", "machineState", "entries", "checksum")
        for name, raw in self.struct_fields(pairs, _V1_TYPE, names):
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


def unmarshal_checkpoint(data: str | bytes) -> Checkpoint:
    """``MemoryManagerCheckpointV1.UnmarshalCheckpoint``: ``json.Unmarshal`` into a fresh V1 checkpoint."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        check_valid_json(raw)
    except _GoSyntaxError as err:
        raise CheckpointError(str(err)) from None
    decoder = _Decoder()
    cp = decoder.checkpoint(_parse_tree(raw))
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
        f'manager checkpoint file "{state_file}" before restarting Kubelet'
    )


def policy_mismatch(configured: str, stored: str) -> str:
    """``restoreState``'s error when the file was written under another policy."""
    return f'[memorymanager] configured policy "{configured}" differs from state checkpoint policy "{stored}"'


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


# --------------------------------------------------------------------------------------------------------
# encoding/json: marshalling, exactly as json.Marshal writes the V1 struct.


def _go_json_string(s: str) -> str:
    """``encoding/json`` string encoding with HTML escaping (the Marshal default)."""
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
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


# --------------------------------------------------------------------------------------------------------
# Conversion between the checkpoint and the engine's dicts (vectors' formats).


def _get(d: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in d:
            return d[name]
    return default


def _table_from_dict(d: Mapping[str, Any] | None) -> MemoryTable | None:
    if d is None:
        return None
    return MemoryTable(
        total=int(_get(d, "total", "total_mem_size", default=0)),
        system_reserved=int(_get(d, "system_reserved", "systemReserved", default=0)),
        allocatable=int(_get(d, "allocatable", default=0)),
        reserved=int(_get(d, "reserved", default=0)),
        free=int(_get(d, "free", default=0)),
    )


def _blocks_from_list(blocks: list[Mapping[str, Any]] | None) -> list[Block] | None:
    if blocks is None:
        return None
    return [
        Block(
            numa_affinity=None
            if (aff := _get(b, "numa_affinity", "numaAffinity")) is None
            else [int(i) for i in aff],
            type=str(b["type"]),
            size=int(b["size"]),
        )
        for b in blocks
    ]


def entries_from_dict(entries: Mapping[str, Mapping[str, list[Mapping[str, Any]]]] | None) -> Any:
    """``{pod_uid: {container: [block]}}`` (snake or camel block keys) -> checkpoint entries, order kept."""
    if entries is None:
        return {}
    return {
        uid: None if ctrs is None else {name: _blocks_from_list(blocks) for name, blocks in ctrs.items()}
        for uid, ctrs in entries.items()
    }


def machine_state_from_dicts(
    state: Mapping[str, Mapping[str, Mapping[str, int]]], numa_groups: Mapping[str, Mapping[str, Any]]
) -> dict[int, NUMANodeState | None]:
    """The engine's ``state()`` + ``numa_groups()`` -> ``state.NUMANodeMap``."""
    machine: dict[int, NUMANodeState | None] = {}
    for nid, tables in state.items():
        group = numa_groups.get(str(nid), {})
        machine[int(nid)] = NUMANodeState(
            number_of_assignments=int(_get(group, "number_of_assignments", "numberOfAssignments", default=0)),
            memory_map={name: _table_from_dict(t) for name, t in tables.items()},
            cells=[int(c) for c in group.get("cells", [int(nid)])],
        )
    return machine


def machine_state_from_checkpoint_dict(machine_state: Mapping[str, Any] | None) -> Any:
    """The vectors' ``checkpoint.machineState`` (camelCase) or a snake_case twin -> ``state.NUMANodeMap``."""
    if machine_state is None:
        return None
    machine: dict[int, NUMANodeState | None] = {}
    for nid, node in machine_state.items():
        if node is None:
            machine[int(nid)] = None
            continue
        memory_map = _get(node, "memoryMap", "memory_map")
        cells = node.get("cells")
        machine[int(nid)] = NUMANodeState(
            number_of_assignments=int(_get(node, "numberOfAssignments", "number_of_assignments", default=0)),
            memory_map=None
            if memory_map is None
            else {k: _table_from_dict(t) for k, t in memory_map.items()},
            cells=None if cells is None else [int(c) for c in cells],
        )
    return machine


def encode_checkpoint(
    policy_name: str, machine_state: Mapping[Any, Any], entries: Mapping[str, Any] | None
) -> str:
    """The kubelet's ``memory_manager_state`` bytes (as str) for this state, checksum included.

    ``machine_state`` is keyed by NUMA id (int or str) with per-node ``numberOfAssignments``/``memoryMap``/
    ``cells`` (camelCase as in the vectors' checkpoint, or snake_case); ``entries`` is
    ``{pod_uid: {container: [{"numa_affinity"|"numaAffinity", "type", "size"}]}}``. Blocks are written in
    the order given.
    """
    cp = Checkpoint(
        policy_name=policy_name,
        machine_state=machine_state_from_checkpoint_dict(machine_state),
        entries=entries_from_dict(entries),
    )
    return marshal_checkpoint(cp)


def _sorted_blocks(blocks: list[Block]) -> list[Block]:
    return sorted(blocks, key=lambda b: b.type.encode())


def checkpoint_to_dict(cp: Checkpoint, *, sort_blocks: bool = True) -> dict[str, Any]:
    """The vectors' ``checkpoint``: the file's JSON without ``checksum``, blocks sorted by type."""
    doc = json.loads(marshal_checkpoint(cp))
    doc.pop("checksum", None)
    if sort_blocks and doc.get("entries"):
        for ctrs in doc["entries"].values():
            for name, blocks in (ctrs or {}).items():
                if blocks is not None:
                    ctrs[name] = sorted(blocks, key=lambda b: b["type"].encode())
    return doc


def checkpoint_to_state(cp: Checkpoint) -> dict[str, dict[str, dict[str, int]]]:
    """``machineState`` in the vectors' ``state`` format (keys ``str(numa id)``, snake_case tables)."""
    state: dict[str, dict[str, dict[str, int]]] = {}
    for nid, node in sorted((cp.machine_state or {}).items()):
        tables: dict[str, dict[str, int]] = {}
        for name, table in sorted(((node.memory_map if node else None) or {}).items()):
            if table is None:
                continue
            tables[name] = {
                "total": table.total,
                "system_reserved": table.system_reserved,
                "allocatable": table.allocatable,
                "reserved": table.reserved,
                "free": table.free,
            }
        state[str(nid)] = tables
    return state


def checkpoint_to_numa_groups(cp: Checkpoint) -> dict[str, dict[str, Any]]:
    """``machineState`` in the vectors' ``numa_groups`` format."""
    return {
        str(nid): {
            "cells": list((node.cells if node else None) or []),
            "number_of_assignments": node.number_of_assignments if node else 0,
        }
        for nid, node in sorted((cp.machine_state or {}).items())
    }


def checkpoint_to_assignments(
    cp: Checkpoint, *, sort_blocks: bool = False
) -> dict[str, dict[str, list[dict]]]:
    """``entries`` as ``{pod_uid: {container: [{"numa_affinity", "type", "size"}]}}`` (snake_case)."""
    result: dict[str, dict[str, list[dict]]] = {}
    for uid, ctrs in (cp.entries or {}).items():
        result[uid] = {}
        for name, blocks in (ctrs or {}).items():
            ordered = _sorted_blocks(blocks or []) if sort_blocks else list(blocks or [])
            result[uid][name] = [
                {"numa_affinity": list(b.numa_affinity or []), "type": b.type, "size": b.size}
                for b in ordered
            ]
    return result
