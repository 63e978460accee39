"""The scenario document: a machine, a kubelet configuration and the steps that happen to it.

Implements ``spec/scenario-format.md``. Every quantity is normalised to integer bytes here, so the
engine never sees a quantity string from the machine or the configuration; pods stay raw JSON (the
engine decodes them with :func:`allocator.pods.parse_pod`, as the kubelet decodes a ``v1.Pod``) but
every ``admit`` step's pod is validated up front so a malformed pod is an input error naming its path,
never a surprise half-way through a replay.

Parsing mirrors what the kubelet is handed rather than what it does with it: cadvisor's
``MachineInfo`` (``Node.Memory``, ``HugePagesInfo``, ``Node.Distances``) and the
``KubeletConfiguration`` fields of the Memory and Topology Managers. A well-formed configuration
that the kubelet would refuse (unknown policy, reserved memory on a missing node, ...) parses
fine here: refusing it is the engine's job (:class:`allocator.errors.ConfigError`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from allocator.errors import InputError
from allocator.pods import parse_pod
from allocator.quantities import parse_quantity, signed_bytes

HUGEPAGES_PREFIX = "hugepages-"
STEP_OPS = ("admit", "remove", "restart")

# NUMA masks are 64-bit in the kubelet's bitmask package: ids of 64 or more cannot be represented.
MAX_NUMA_ID = 63

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class NUMANodeSpec(BaseModel):
    """One NUMA node as cadvisor reports it: ``Node.Memory`` and its ``HugePagesInfo`` pools.

    ``hugepages`` maps ``hugepages-<size>`` to total bytes and holds only the sizes present in the
    input: an absent size means the node reports no such pool (no table in the state), a present
    ``0`` an empty pool (a table of zeros).
    """

    model_config = ConfigDict(frozen=True)

    id: int
    memory: int
    hugepages: dict[str, int] = Field(default_factory=dict)


class MachineSpec(BaseModel):
    """cadvisor's ``MachineInfo`` as the Memory and Topology Managers read it.

    ``distances[from_id][to_id]``: row ``i`` of the input belongs to the ``i``-th node of
    ``numa_nodes`` and is indexed by NUMA *id*, as ``NUMADistances``/``CalculateAverageFor`` read it.
    A row written by position on a machine with non-contiguous ids is therefore kept as given (its
    keys are positions), and reading a missing id is the kubelet's index-out-of-range panic.
    """

    model_config = ConfigDict(frozen=True)

    numa_nodes: list[NUMANodeSpec]
    distances: dict[int, dict[int, int]] | None = None

    @property
    def numa_ids(self) -> list[int]:
        """The NUMA ids in ascending order, the order the kubelet iterates them."""
        return sorted(node.id for node in self.numa_nodes)


class ReservedMemorySpec(BaseModel):
    """One ``reservedMemory`` entry of the ``KubeletConfiguration``."""

    model_config = ConfigDict(frozen=True)

    numa_node: int
    limits: dict[str, int]


class KubeletSpec(BaseModel):
    """The ``KubeletConfiguration`` fields of the resource managers.

    Unknown fields (CPU Manager settings, feature gates, ...) are kept verbatim in ``model_extra``
    so that callers modelling the wider start-up path can read them.
    """

    model_config = ConfigDict(extra="allow")

    memory_manager_policy: str = "Static"
    topology_manager_policy: str = "none"
    topology_manager_scope: str = "container"
    topology_manager_policy_options: dict[str, str] = Field(default_factory=dict)
    reserved_memory: list[ReservedMemorySpec] = Field(default_factory=list)
    node_allocatable_reservation: dict[str, int] | None = None
    kube_reserved: dict[str, int] = Field(default_factory=dict)
    system_reserved: dict[str, int] = Field(default_factory=dict)
    eviction_hard: dict[str, str] = Field(default_factory=dict)


class Scenario(BaseModel):
    """A parsed scenario document; ``steps`` are the raw step dicts, already validated."""

    name: str
    machine: MachineSpec
    kubelet: KubeletSpec
    steps: list[dict[str, Any]] = Field(default_factory=list)


# --- path and type helpers ---------------------------------------------------------------------


def join_path(path: str, key: str | int) -> str:
    """Extend a JSON path: ``a.b`` + ``c`` -> ``a.b.c``, + ``0`` (int) -> ``a.b[0]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not _PLAIN_KEY.match(key):
        key = '"' + key.replace('"', '\\"') + '"'
        return f"{path}[{key}]" if path else f"[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(value: object) -> str:
    # JSON vocabulary, since that is what the user wrote.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(path, f"expected an object, got {_type_name(value)}")
    return value


def _array(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(path, f"expected an array, got {_type_name(value)}")
    return value


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise InputError(path, f"expected a string, got {_type_name(value)}")
    return value


def _integer(value: object, path: str, minimum: int | None = None) -> int:
    # bool is an int in Python but never a NUMA id or a distance in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(path, f"expected an integer, got {_type_name(value)}")
    if minimum is not None and value < minimum:
        raise InputError(path, f"must be at least {minimum}, got {value}")
    return value


def _option_value(value: object, path: str) -> str:
    # KubeletConfiguration option values are strings; JSON true/8 are accepted as "true"/"8".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _string(value, path)


def _quantity(value: object, path: str) -> int:
    """A Kubernetes quantity (string) or an integer number of bytes, as whole non-negative bytes."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(path, f"expected a quantity (string or integer bytes), got {_type_name(value)}")
    return parse_quantity(value, path)


def _quantity_map(value: object, path: str) -> dict[str, int]:
    return {name: _quantity(amount, join_path(path, name)) for name, amount in _object(value, path).items()}


def _signed_value(value: object, path: str) -> int:
    """``Quantity.Value()``: any sign, fractions rounded up (``"500m"`` CPU -> 1), as the kubelet reads it."""
    return signed_bytes(value, path)


def _signed_quantity_map(value: object, path: str) -> dict[str, int]:
    return {
        name: _signed_value(amount, join_path(path, name)) for name, amount in _object(value, path).items()
    }


def _string_map(value: object, path: str) -> dict[str, str]:
    return {name: _option_value(item, join_path(path, name)) for name, item in _object(value, path).items()}


# --- machine ------------------------------------------------------------------------------------


def _parse_hugepage_name(name: str, path: str) -> None:
    """Reject ``hugepages-<size>`` keys whose size is not a positive quantity."""
    size = name[len(HUGEPAGES_PREFIX) :]
    if not size or parse_quantity(size, path) <= 0:
        raise InputError(path, f"{name!r} does not name a hugepage size")


def parse_numa_node(doc: object, path: str) -> NUMANodeSpec:
    """One ``numa_nodes`` entry: ``id``, ``memory`` and any ``hugepages-<size>`` totals."""
    node = _object(doc, path)
    if "id" not in node:
        raise InputError(join_path(path, "id"), "required")
    if "memory" not in node:
        raise InputError(join_path(path, "memory"), "required")
    numa_id = _integer(node["id"], join_path(path, "id"), minimum=0)
    if numa_id > MAX_NUMA_ID:
        raise InputError(join_path(path, "id"), f"NUMA ids above {MAX_NUMA_ID} are not supported")
    hugepages: dict[str, int] = {}
    for key, amount in node.items():
        if isinstance(key, str) and key.startswith(HUGEPAGES_PREFIX):
            key_path = join_path(path, key)
            _parse_hugepage_name(key, key_path)
            hugepages[key] = _quantity(amount, key_path)
    memory = _quantity(node["memory"], join_path(path, "memory"))
    return NUMANodeSpec(id=numa_id, memory=memory, hugepages=hugepages)


def _parse_distance_row(row: object, path: str) -> dict[int, int]:
    if isinstance(row, Mapping):
        return {
            _key_as_id(key, join_path(path, str(key))): _integer(value, join_path(path, str(key)), minimum=0)
            for key, value in row.items()
        }
    return {
        index: _integer(value, join_path(path, index), minimum=0)
        for index, value in enumerate(_array(row, path))
    }


def _key_as_id(key: object, path: str) -> int:
    # JSON object keys are strings: {"0": {...}} names NUMA id 0.
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.isdigit():
        return int(key)
    raise InputError(path, f"expected a NUMA id as key, got {key!r}")


def parse_distances(doc: object, nodes: list[NUMANodeSpec], path: str) -> dict[int, dict[int, int]] | None:
    """``distances`` as ``[from_id][to_id]``.

    A list holds one row per ``numa_nodes`` entry, in that order (sysfs order). An object keyed by
    NUMA id is accepted too. Entries inside a row keep their index as the target id, exactly as the
    kubelet indexes them, even when the row was written by position.
    """
    if doc is None:
        return None
    if isinstance(doc, Mapping):
        known = {node.id for node in nodes}
        distances: dict[int, dict[int, int]] = {}
        for key, row in doc.items():
            row_path = join_path(path, str(key))
            numa_id = _key_as_id(key, row_path)
            if numa_id not in known:
                raise InputError(row_path, f"NUMA node {numa_id} is not in machine.numa_nodes")
            distances[numa_id] = _parse_distance_row(row, row_path)
        return distances
    rows = _array(doc, path)
    if len(rows) != len(nodes):
        raise InputError(path, f"expected one row per NUMA node ({len(nodes)}), got {len(rows)}")
    return {
        node.id: _parse_distance_row(row, join_path(path, index))
        for index, (node, row) in enumerate(zip(nodes, rows, strict=True))
    }


def parse_machine(doc: object, path: str = "machine") -> MachineSpec:
    """``machine``: ``numa_nodes`` (at least one, unique ids) and optional ``distances``."""
    machine = _object(doc, path)
    nodes_path = join_path(path, "numa_nodes")
    if "numa_nodes" not in machine:
        raise InputError(nodes_path, "required")
    raw_nodes = _array(machine["numa_nodes"], nodes_path)
    if not raw_nodes:
        raise InputError(nodes_path, "a machine needs at least one NUMA node")
    nodes: list[NUMANodeSpec] = []
    seen: set[int] = set()
    for index, raw in enumerate(raw_nodes):
        node = parse_numa_node(raw, join_path(nodes_path, index))
        if node.id in seen:
            raise InputError(join_path(join_path(nodes_path, index), "id"), f"duplicate NUMA id {node.id}")
        seen.add(node.id)
        nodes.append(node)
    distances = parse_distances(machine.get("distances"), nodes, join_path(path, "distances"))
    return MachineSpec(numa_nodes=nodes, distances=distances)


# --- kubelet ------------------------------------------------------------------------------------


def parse_reserved_memory(doc: object, path: str) -> list[ReservedMemorySpec]:
    """``reservedMemory``: a list of ``{numa_node, limits: {resource: quantity}}``.

    NUMA ids are not checked against the machine here: a reservation on a missing node is a
    configuration the kubelet refuses with its own words, not malformed input.
    """
    entries = []
    for index, raw in enumerate(_array(doc, path)):
        entry_path = join_path(path, index)
        entry = _object(raw, entry_path)
        for key in ("numa_node", "limits"):
            if key not in entry:
                raise InputError(join_path(entry_path, key), "required")
        numa_node = _integer(entry["numa_node"], join_path(entry_path, "numa_node"), minimum=0)
        limits = _quantity_map(entry["limits"], join_path(entry_path, "limits"))
        entries.append(ReservedMemorySpec(numa_node=numa_node, limits=limits))
    return entries


_KUBELET_STRINGS = ("memory_manager_policy", "topology_manager_policy", "topology_manager_scope")


def parse_kubelet(doc: object, path: str = "kubelet") -> KubeletSpec:
    """``kubelet``: the resource-manager fields of the ``KubeletConfiguration``, quantities in bytes."""
    if doc is None:
        doc = {}
    kubelet = _object(doc, path)
    fields: dict[str, Any] = {}
    for key, value in kubelet.items():
        field_path = join_path(path, key)
        if key in _KUBELET_STRINGS:
            fields[key] = _string(value, field_path)
        elif key == "topology_manager_policy_options":
            fields[key] = _string_map(value, field_path) if value is not None else {}
        elif key == "reserved_memory":
            fields[key] = parse_reserved_memory(value, field_path) if value is not None else []
        elif key == "node_allocatable_reservation":
            fields[key] = _quantity_map(value, field_path) if value is not None else None
        elif key in ("kube_reserved", "system_reserved"):
            # Negative values are well-formed: the kubelet itself refuses them at start-up.
            fields[key] = _signed_quantity_map(value, field_path) if value is not None else {}
        elif key == "eviction_hard":
            # Thresholds like "10%" are not quantities; the kubelet parses them at start-up.
            fields[key] = _string_map(value, field_path) if value is not None else {}
        else:
            fields[key] = value
    return KubeletSpec(**fields)


# --- steps --------------------------------------------------------------------------------------


def _parse_pod(pod: object, path: str) -> None:
    parse_pod(dict(_object(pod, path)), path)


def _validate_changes(doc: object, path: str) -> None:
    """A ``restart`` step's ``changes`` (``restart/README.md``): check the shapes the engine reads."""
    changes = _object(doc, path)
    if "machine" in changes:
        parse_machine(changes["machine"], join_path(path, "machine"))
    if "reserved_memory" in changes:
        parse_reserved_memory(changes["reserved_memory"], join_path(path, "reserved_memory"))
    if changes.get("node_allocatable_reservation") is not None:
        _quantity_map(
            changes["node_allocatable_reservation"], join_path(path, "node_allocatable_reservation")
        )
    for key in (*_KUBELET_STRINGS, "checkpoint_file", "tamper"):
        if key in changes:
            _string(changes[key], join_path(path, key))
    if "topology_manager_policy_options" in changes:
        _string_map(
            changes["topology_manager_policy_options"], join_path(path, "topology_manager_policy_options")
        )
    if "active_pods" in changes:
        for index, uid in enumerate(_array(changes["active_pods"], join_path(path, "active_pods"))):
            _string(uid, join_path(join_path(path, "active_pods"), index))
    if "delete_checkpoint" in changes and not isinstance(changes["delete_checkpoint"], bool):
        raise InputError(join_path(path, "delete_checkpoint"), "expected a boolean")


def validate_step(doc: object, path: str) -> dict[str, Any]:
    """Check one step's shape; return it unchanged (steps stay raw dicts)."""
    step = _object(doc, path)
    op_path = join_path(path, "op")
    if "op" not in step:
        raise InputError(op_path, "required")
    op = _string(step["op"], op_path)
    if op not in STEP_OPS:
        raise InputError(op_path, f"unknown op {op!r}, expected one of {', '.join(STEP_OPS)}")
    if op == "admit":
        if "pod" not in step:
            raise InputError(join_path(path, "pod"), "required")
        _parse_pod(step["pod"], join_path(path, "pod"))
    elif op == "remove":
        if "pod_uid" not in step:
            raise InputError(join_path(path, "pod_uid"), "required")
        _string(step["pod_uid"], join_path(path, "pod_uid"))
    elif step.get("changes") is not None:
        _validate_changes(step["changes"], join_path(path, "changes"))
    if "note" in step and step["note"] is not None:
        _string(step["note"], join_path(path, "note"))
    return dict(step)


def parse_steps(doc: object, path: str = "steps") -> list[dict[str, Any]]:
    """``steps``: a list of ``admit`` / ``remove`` / ``restart`` steps."""
    if doc is None:
        return []
    return [validate_step(step, join_path(path, index)) for index, step in enumerate(_array(doc, path))]


def parse_scenario(doc: object) -> Scenario:
    """Parse and validate a whole scenario document; raises :class:`InputError` with a JSON path.

    ``initial_state``, ``expect`` blocks and ``config_error`` are outputs: they are ignored here.
    """
    scenario = _object(doc, "")
    name = scenario.get("name", "")
    name = _string(name, "name") if name is not None else ""
    if "machine" not in scenario:
        raise InputError("machine", "required")
    machine = parse_machine(scenario["machine"], "machine")
    kubelet = parse_kubelet(scenario.get("kubelet"), "kubelet")
    steps = parse_steps(scenario.get("steps"), "steps")
    return Scenario(name=name, machine=machine, kubelet=kubelet, steps=steps)
