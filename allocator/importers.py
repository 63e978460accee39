"""Turning what a node engineer has on a real node into scenario pieces.

* ``KubeletConfiguration`` YAML (the kubelet's ``--config`` file) -> :class:`KubeletSpec`
  (v1beta1 field names; absent fields take the v1beta1 defaults: Memory Manager ``None``,
  Topology Manager ``none``/``container``).
* the ``--reserved-memory`` flag (``0:memory=1Gi,hugepages-1Gi=2Gi;1:memory=1Gi``) -> reserved memory,
  with the texts of the kubelet's own flag parser (``ReservedMemoryVar.Set``).
* ``numactl --hardware`` output and cadvisor's ``MachineInfo`` JSON -> :class:`MachineSpec`.
* a ``memory_manager_state`` checkpoint file -> a scenario document whose pods are the file's entries
  and whose last step restarts the kubelet from exactly that file.

Every problem is an :class:`InputError` whose ``path`` names the field (``reservedMemory[0].limits.memory``)
or the line (``line 7``) at fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from allocator.checkpoint import (
    CheckpointError,
    compute_checksum,
    marshal_checkpoint,
    policy_mismatch,
    restore_error,
    unmarshal_checkpoint,
    verify_checksum,
)
from allocator.errors import InputError
from allocator.quantities import format_quantity, parse_quantity
from allocator.scenario import (
    KubeletSpec,
    MachineSpec,
    ReservedMemorySpec,
    join_path,
    parse_kubelet,
    parse_machine,
)

__all__ = [
    "CheckpointImport",
    "import_checkpoint",
    "kubelet_doc_from_configuration",
    "machine_doc_from_cadvisor",
    "machine_doc_from_numactl",
    "parse_cadvisor_machine_info",
    "parse_kubelet_configuration",
    "parse_numactl_hardware",
    "parse_reserved_memory_flag",
]

KUBELET_CONFIG_KIND = "KubeletConfiguration"
KUBELET_CONFIG_GROUP = "kubelet.config.k8s.io"

# v1beta1 KubeletConfiguration field -> scenario ``kubelet`` key. The first block is what the Memory and
# Topology Managers read; the second is kept for the CPU Manager and the start-up checks.
_KUBELET_FIELDS: dict[str, str] = {
    "memoryManagerPolicy": "memory_manager_policy",
    "reservedMemory": "reserved_memory",
    "topologyManagerPolicy": "topology_manager_policy",
    "topologyManagerScope": "topology_manager_scope",
    "topologyManagerPolicyOptions": "topology_manager_policy_options",
    "kubeReserved": "kube_reserved",
    "systemReserved": "system_reserved",
    "evictionHard": "eviction_hard",
    "cpuManagerPolicy": "cpu_manager_policy",
    "cpuManagerPolicyOptions": "cpu_manager_policy_options",
    "reservedSystemCPUs": "reserved_system_cpus",
    "mergeDefaultEvictionSettings": "merge_default_eviction_settings",
    "featureGates": "feature_gates",
}
_RESERVED_FIELDS = {"numaNode": "numa_node", "limits": "limits"}
# The v1beta1 defaults the scenario format does not share (its Memory Manager default is Static).
_V1BETA1_DEFAULTS = {"memory_manager_policy": "None"}


# --------------------------------------------------------------------------------------------------------
# YAML with line numbers


def _load_yaml_with_lines(text: str, what: str) -> tuple[Any, dict[str, int]]:
    """``yaml.safe_load`` plus a map from JSON path (YAML field names) to 1-based line numbers."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise InputError(where, f"{what} is not valid YAML: {err.problem or err}") from None
    except yaml.YAMLError as err:
        raise InputError("", f"{what} is not valid YAML: {err}") from None
    lines: dict[str, int] = {}

    def walk(n: yaml.Node, path: str) -> None:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                walk(value, join_path(path, str(key.value)))
                lines[join_path(path, str(key.value))] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                walk(item, join_path(path, index))

    if node is not None:
        walk(node, "")
    return data, lines


def _with_line(err: InputError, lines: Mapping[str, int]) -> InputError:
    """Add ``(line N)`` for the deepest path prefix the YAML located."""
    path = err.path
    while path:
        if path in lines:
            return InputError(err.path, f"{err.message} (line {lines[path]})")
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return err


# --------------------------------------------------------------------------------------------------------
# KubeletConfiguration


def _translate_path(scenario_path: str) -> str:
    """``kubelet.reserved_memory[0].numa_node`` -> ``reservedMemory[0].numaNode``."""
    path = scenario_path.removeprefix("kubelet").lstrip(".")
    reverse = {snake: camel for camel, snake in _KUBELET_FIELDS.items()}
    head = re.match(r"[A-Za-z_]+", path)
    if head and head.group(0) in reverse:
        path = reverse[head.group(0)] + path[head.end() :]
    return re.sub(r"\.numa_node\b", ".numaNode", path)


def kubelet_doc_from_configuration(text: str) -> dict[str, Any]:
    """A ``KubeletConfiguration`` YAML/JSON document -> the scenario's ``kubelet`` section (quantities kept).

    ``apiVersion``/``kind`` may be omitted (a snippet); when present they must name a
    ``kubelet.config.k8s.io`` ``KubeletConfiguration``. Fields outside the resource managers are ignored.
    The values are validated here: an error names the v1beta1 field and its line.
    """
    doc, lines = _load_yaml_with_lines(text, "the KubeletConfiguration")
    if not isinstance(doc, Mapping):
        raise InputError("", "a KubeletConfiguration must be a YAML mapping")
    kind = doc.get("kind")
    if kind is not None and kind != KUBELET_CONFIG_KIND:
        raise _with_line(InputError("kind", f"expected {KUBELET_CONFIG_KIND}, got {kind!r}"), lines)
    api_version = doc.get("apiVersion")
    if api_version is not None and not str(api_version).startswith(KUBELET_CONFIG_GROUP + "/"):
        raise _with_line(
            InputError("apiVersion", f"expected {KUBELET_CONFIG_GROUP}/v1beta1, got {api_version!r}"), lines
        )
    kubelet: dict[str, Any] = dict(_V1BETA1_DEFAULTS)
    for camel, snake in _KUBELET_FIELDS.items():
        if camel not in doc or doc[camel] is None:
            continue
        value = doc[camel]
        if camel == "reservedMemory":
            value = _reserved_memory_entries(value, lines)
        kubelet[snake] = value
    try:
        parse_kubelet(kubelet, "kubelet")  # validate now, so errors name the YAML field and line
    except InputError as err:
        raise _with_line(InputError(_translate_path(err.path), err.message), lines) from None
    return kubelet


def _reserved_memory_entries(value: Any, lines: Mapping[str, int]) -> Any:
    if not isinstance(value, list):
        return value  # parse_kubelet reports the wrong type
    entries = []
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            entries.append(entry)
            continue
        converted: dict[str, Any] = {}
        for key, item in entry.items():
            if key not in _RESERVED_FIELDS:
                path = join_path(join_path("reservedMemory", index), str(key))
                raise _with_line(InputError(path, "unknown field (expected numaNode and limits)"), lines)
            converted[_RESERVED_FIELDS[key]] = item
        entries.append(converted)
    return entries


def parse_kubelet_configuration(text: str) -> KubeletSpec:
    """``KubeletConfiguration`` YAML -> :class:`KubeletSpec`; errors name the v1beta1 field and its line."""
    return parse_kubelet(kubelet_doc_from_configuration(text), "kubelet")


# --------------------------------------------------------------------------------------------------------
# --reserved-memory


_FLAG_FORMAT = (
    "the reserved memory has incorrect format, expected numaNodeID:type=quantity[,type=quantity...], got "
)


def parse_reserved_memory_flag(
    value: str | list[str], path: str = "--reserved-memory"
) -> list[ReservedMemorySpec]:
    """``ReservedMemoryVar.Set``: ``0:memory=1Gi,hugepages-1Gi=2Gi;1:memory=1Gi`` -> reserved memory.

    The flag may be given several times (a list); each value adds its entries. Messages are the kubelet's
    own (typos included); the path names the flag and the entry's index (``--reserved-memory[1]``).
    """
    values = [value] if isinstance(value, str) else list(value)
    reservations = []
    for raw in values:
        text = raw.strip().removeprefix("--reserved-memory").lstrip("= ").strip()
        if text:  # an empty value resets the flag to nothing
            reservations.extend(text.split(";"))
    return [_reservation(text, f"{path}[{index}]") for index, text in enumerate(reservations)]


def _reservation(reservation: str, where: str) -> ReservedMemorySpec:
    parts = reservation.split(":")
    if len(parts) != 2:
        raise InputError(where, _FLAG_FORMAT + reservation)
    node_text, limits_text = parts
    if not re.fullmatch(r"[+-]?[0-9]+", node_text):
        raise InputError(where, f"failed to convert the NUMA node ID, exptected integer, got {node_text}")
    limits: dict[str, int] = {}
    for item in limits_text.split(","):
        pair = item.split("=")
        if len(pair) != 2:
            raise InputError(
                where, f"the reserved limit has incorrect value, expected type=quantatity, got {item}"
            )
        name, amount = pair
        if name != "memory" and not name.startswith("hugepages-"):
            raise InputError(where, f'memory type conversion error, unknown type: "{name}"')
        try:
            limits[name] = parse_quantity(amount, join_path(where, name))
        except InputError:
            message = f"failed to parse the quantatity, expected quantatity, got {amount}"
            raise InputError(join_path(where, name), message) from None
    numa_node = int(node_text)
    if numa_node < 0:
        # Atoi accepts it, but no NUMA node has a negative id; the scenario format refuses it.
        raise InputError(where, f"a NUMA node ID must not be negative, got {node_text}")
    return ReservedMemorySpec(numa_node=numa_node, limits=limits)


# --------------------------------------------------------------------------------------------------------
# numactl --hardware

_NUMACTL_AVAILABLE = re.compile(r"available:\s*(\d+)\s+nodes?\s*(?:\((.*)\))?\s*$")
_NUMACTL_NODE = re.compile(r"node\s+(\d+)\s+(cpus|size|free):\s*(.*?)\s*$")
_NUMACTL_SIZE = re.compile(r"(\d+)\s*(MB|kB|KB|GB)\s*$")
_UNIT = {"kB": 1 << 10, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def machine_doc_from_numactl(text: str) -> dict[str, Any]:
    """``numactl --hardware`` output -> a scenario ``machine`` document.

    ``node N size: S MB`` is the node's MemTotal in MiB (numactl's MB are 2^20 bytes), so sizes are
    exact only to the MiB; numactl does not show hugepage pools, so none are reported. The distance
    table becomes one row per node in the order listed (sysfs order), as cadvisor reports it.
    """
    sizes: dict[int, int] = {}
    order: list[int] = []
    declared: int | None = None
    distance_header: list[int] | None = None
    distance_rows: dict[int, list[int]] = {}
    lines = text.splitlines()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        where = f"line {number}"
        if not line or line.startswith("#") or line.startswith("$"):
            continue
        if distance_header is None and line == "node distances:":
            distance_header = []
            continue
        if distance_header is not None:
            if not distance_header:
                header = line.split()
                if header[:1] != ["node"] or not all(h.isdigit() for h in header[1:]) or len(header) < 2:
                    raise InputError(
                        where, f"expected the distance table header 'node 0 1 ...', got {line!r}"
                    )
                distance_header = [int(h) for h in header[1:]]
                continue
            match = re.fullmatch(r"(\d+):\s*(.*)", line)
            if match is None:
                raise InputError(where, f"expected a distance row like '0: 10 21', got {line!r}")
            cells = match.group(2).split()
            if not all(c.isdigit() for c in cells) or len(cells) != len(distance_header):
                raise InputError(
                    where,
                    f"expected {len(distance_header)} distances for node {match.group(1)}, got {line!r}",
                )
            distance_rows[int(match.group(1))] = [int(c) for c in cells]
            continue
        available = _NUMACTL_AVAILABLE.match(line)
        if available:
            declared = int(available.group(1))
            continue
        node = _NUMACTL_NODE.match(line)
        if node is None:
            if line.startswith("No NUMA available"):
                raise InputError(where, "numactl reports no NUMA support on this machine")
            raise InputError(where, f"unrecognised numactl --hardware line: {line!r}")
        numa_id, kind, rest = int(node.group(1)), node.group(2), node.group(3)
        if numa_id not in order:
            order.append(numa_id)
        if kind == "size":
            size = _NUMACTL_SIZE.match(rest)
            if size is None:
                raise InputError(where, f"expected 'node {numa_id} size: <n> MB', got {line!r}")
            sizes[numa_id] = int(size.group(1)) * _UNIT[size.group(2)]
    if not order:
        raise InputError("", "no 'node N size:' lines found: is this `numactl --hardware` output?")
    missing = [n for n in order if n not in sizes]
    if missing:
        raise InputError("", f"no 'node {missing[0]} size:' line")
    if declared is not None and declared != len(order):
        raise InputError("line 1", f"numactl announces {declared} nodes but lists {len(order)}")
    machine: dict[str, Any] = {"numa_nodes": [{"id": n, "memory": sizes[n]} for n in order]}
    if distance_header:
        if sorted(distance_rows) != sorted(order) or sorted(distance_header) != sorted(order):
            raise InputError("node distances", "the distance table does not list every node once")
        machine["distances"] = [distance_rows[n] for n in order]
    else:
        machine["distances"] = None
    return machine


def parse_numactl_hardware(text: str) -> MachineSpec:
    """``numactl --hardware`` output -> :class:`MachineSpec`."""
    return parse_machine(machine_doc_from_numactl(text), "machine")


# --------------------------------------------------------------------------------------------------------
# cadvisor MachineInfo


def _hugepage_resource(page_size_kib: int) -> str:
    """``v1helper.HugePageResourceName`` of a page size cadvisor gives in KiB."""
    return "hugepages-" + format_quantity(page_size_kib * 1024)


def _nonneg_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(path, f"expected a non-negative integer, got {json.dumps(value)}")
    return value


def machine_doc_from_cadvisor(info: str | Mapping[str, Any]) -> dict[str, Any]:
    """cadvisor ``MachineInfo`` JSON (``/spec`` or the kubelet's ``/machine``-info dump) -> ``machine``.

    Reads ``topology[].node_id``, ``memory`` (bytes), ``hugepages[] {page_size (KiB), num_pages}`` and
    ``distances`` -- the fields the Memory and Topology Managers use.
    """
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except json.JSONDecodeError as err:
            raise InputError(f"line {err.lineno}", f"not valid JSON: {err.msg}") from None
    if not isinstance(info, Mapping):
        raise InputError("", "cadvisor machine info must be a JSON object")
    topology = info.get("topology")
    if not isinstance(topology, list) or not topology:
        raise InputError("topology", "expected a non-empty list of NUMA nodes")
    nodes = []
    rows: list[list[int]] = []
    for index, node in enumerate(topology):
        path = join_path("topology", index)
        if not isinstance(node, Mapping):
            raise InputError(path, "expected an object")
        for key in ("node_id", "memory"):
            if key not in node:
                raise InputError(join_path(path, key), "required")
        spec: dict[str, Any] = {
            "id": _nonneg_int(node["node_id"], join_path(path, "node_id")),
            "memory": _nonneg_int(node["memory"], join_path(path, "memory")),
        }
        pages = node.get("hugepages") or []
        if not isinstance(pages, list):
            raise InputError(join_path(path, "hugepages"), "expected a list")
        for page_index, page in enumerate(pages):
            page_path = join_path(join_path(path, "hugepages"), page_index)
            if not isinstance(page, Mapping):
                raise InputError(page_path, "expected an object")
            size = _nonneg_int(page.get("page_size"), join_path(page_path, "page_size"))
            count = _nonneg_int(page.get("num_pages"), join_path(page_path, "num_pages"))
            if size == 0:
                raise InputError(join_path(page_path, "page_size"), "a page size must be positive")
            spec[_hugepage_resource(size)] = size * 1024 * count
        nodes.append(spec)
        distances = node.get("distances")
        if distances is not None:
            if not isinstance(distances, list):
                raise InputError(join_path(path, "distances"), "expected a list")
            rows.append(
                [_nonneg_int(d, join_path(join_path(path, "distances"), i)) for i, d in enumerate(distances)]
            )
    machine: dict[str, Any] = {"numa_nodes": nodes, "distances": None}
    if rows:
        if len(rows) != len(nodes):
            raise InputError("topology", "either every node or no node must carry distances")
        machine["distances"] = rows
    return machine


def parse_cadvisor_machine_info(info: str | Mapping[str, Any]) -> MachineSpec:
    """cadvisor ``MachineInfo`` JSON -> :class:`MachineSpec`."""
    doc = machine_doc_from_cadvisor(info)
    try:
        return parse_machine(doc, "machine")
    except InputError as err:
        # machine.numa_nodes[i].x is topology[i].x in the input
        path = err.path.replace("machine.numa_nodes", "topology").replace(".id", ".node_id")
        raise InputError(path.replace("machine.distances", "topology"), err.message) from None


# --------------------------------------------------------------------------------------------------------
# memory_manager_state


@dataclass(slots=True)
class CheckpointImport:
    """What importing a checkpoint file found, and the scenario that reproduces it.

    ``scenario`` is a scenario document: the machine and kubelet (given or inferred from the file), one
    ``admit`` step per pod of ``entries`` (a Guaranteed pod requesting exactly its blocks), then a
    ``restart`` step whose ``checkpoint_file`` is the file as the kubelet would rewrite it, so that the
    replayed state is exactly the file's (placement included). ``problems`` lists, in plain words, what does
    not fit; ``error`` is the kubelet's own start-up error for this file, machine and configuration (the
    text a restart step reports), or None when the kubelet would start.
    """

    scenario: dict[str, Any]
    policy_name: str
    checksum: int
    checksum_status: str  # "valid" | "valid-v1-type-name" | "unchecked-zero" | "corrupt"
    expected_checksum: int
    pods: list[dict[str, Any]]
    inferred: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    def report(self) -> dict[str, Any]:
        """A JSON-able summary for the API and the page."""
        return {
            "policy_name": self.policy_name,
            "checksum": self.checksum,
            "checksum_status": self.checksum_status,
            "expected_checksum": self.expected_checksum,
            "pods": len(self.pods),
            "inferred": list(self.inferred),
            "problems": list(self.problems),
            "kubelet_would_start": self.error is None,
            "error": self.error,
        }


def _checksum_status(cp: Any) -> str:
    if cp.checksum == 0:
        return "unchecked-zero"
    try:
        verify_checksum(cp)
    except CheckpointError:
        return "corrupt"
    return "valid" if cp.checksum == compute_checksum(cp) else "valid-v1-type-name"


def _machine_from_checkpoint(cp: Any) -> dict[str, Any]:
    nodes = []
    for numa_id, node in sorted((cp.machine_state or {}).items()):
        if node is None or node.memory_map is None or node.memory_map.get("memory") is None:
            raise InputError(
                f"machineState.{numa_id}.memoryMap.memory",
                "the node has no memory table: give the machine alongside the file",
            )
        spec: dict[str, Any] = {"id": numa_id, "memory": node.memory_map["memory"].total}
        for name, table in sorted(node.memory_map.items()):
            if name != "memory" and table is not None:
                spec[name] = table.total
        nodes.append(spec)
    if not nodes:
        raise InputError("machineState", "the file has no machine state: give the machine alongside the file")
    return {"numa_nodes": nodes, "distances": None}


def _reserved_from_checkpoint(cp: Any) -> list[dict[str, Any]]:
    reserved = []
    for numa_id, node in sorted((cp.machine_state or {}).items()):
        limits = {
            name: table.system_reserved
            for name, table in sorted(((node.memory_map if node else None) or {}).items())
            if table is not None and table.system_reserved
        }
        if limits:
            reserved.append({"numa_node": numa_id, "limits": limits})
    return reserved


def _pod_from_entries(uid: str, containers: Mapping[str, Any] | None) -> dict[str, Any]:
    """A Guaranteed pod whose containers request exactly their blocks (init containers are not in the
    file once the pod runs, so every container is an app container)."""
    specs = []
    for name, blocks in (containers or {}).items():
        sizes: dict[str, int] = {}
        for block in blocks or []:
            sizes[block.type] = sizes.get(block.type, 0) + block.size
        # A block emptied by init-container reuse would make a zero request, which QoS ignores.
        requests = {"cpu": "1", **{res: format_quantity(size) for res, size in sorted(sizes.items()) if size}}
        resources = {"requests": dict(requests), "limits": dict(requests)}
        specs.append({"name": name, "image": "registry.k8s.io/pause:3.10", "resources": resources})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": _pod_name(uid), "namespace": "default", "uid": uid},
        "spec": {"containers": specs},
    }


def _pod_name(uid: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", uid.lower()).strip("-")
    return name[:63] or "pod"


def import_checkpoint(
    text: str | bytes,
    machine: Mapping[str, Any] | None = None,
    kubelet: Mapping[str, Any] | None = None,
    name: str = "imported-checkpoint",
) -> CheckpointImport:
    """A ``memory_manager_state`` file (plus, optionally, the scenario ``machine``/``kubelet`` it came
    from) -> :class:`CheckpointImport`.

    The file must decode (otherwise ``InputError`` with the Go decoder's text). What the file cannot tell
    -- NUMA distances, the Topology Manager settings, which containers were init containers -- is
    reported in ``inferred`` when the machine or kubelet configuration is not given.
    """
    try:
        cp = unmarshal_checkpoint(text)
    except CheckpointError as err:
        raise InputError("checkpoint", err.message) from None
    inferred: list[str] = []
    problems: list[str] = []
    errors: list[str] = []
    status = _checksum_status(cp)
    if status == "corrupt":
        problems.append("the checksum does not match the content (the file was edited or damaged)")
        errors.append(restore_error("checkpoint is corrupted"))
    if machine is None:
        machine_doc = _machine_from_checkpoint(cp)
        inferred.append(
            "machine: memory and hugepage totals from the file; NUMA distances are not in the checkpoint"
        )
    else:
        machine_doc = dict(machine)
    if kubelet is None:
        kubelet_doc: dict[str, Any] = {
            "memory_manager_policy": cp.policy_name or "Static",
            "reserved_memory": _reserved_from_checkpoint(cp),
        }
        inferred.append(
            "kubelet: policy and reserved memory from the file; the Topology Manager settings are not in "
            "the checkpoint (defaults used)"
        )
    else:
        kubelet_doc = dict(kubelet)
    parsed_machine = parse_machine(machine_doc, "machine")
    parsed_kubelet = parse_kubelet(kubelet_doc, "kubelet")
    if cp.policy_name != parsed_kubelet.memory_manager_policy:
        problems.append(
            f"the file was written by the {cp.policy_name!r} policy, the kubelet is configured with "
            f"{parsed_kubelet.memory_manager_policy!r}"
        )
        errors.append(restore_error(policy_mismatch(parsed_kubelet.memory_manager_policy, cp.policy_name)))
    problems += _machine_problems(cp, parsed_machine)
    start_error = _start_error(cp, parsed_machine, parsed_kubelet)
    if start_error is not None:
        errors.append(start_error)
    pods = [_pod_from_entries(uid, containers) for uid, containers in (cp.entries or {}).items()]
    steps: list[dict[str, Any]] = [{"op": "admit", "pod": pod} for pod in pods]
    steps.append(
        {
            "op": "restart",
            "note": "restart from the imported memory_manager_state",
            "changes": {"checkpoint_file": marshal_checkpoint(cp) if status != "corrupt" else _as_text(text)},
        }
    )
    scenario = {
        "name": name,
        "machine": _machine_doc(parsed_machine) if machine is None else dict(machine),
        "kubelet": kubelet_doc,
        "steps": steps,
    }
    return CheckpointImport(
        scenario=scenario,
        policy_name=cp.policy_name,
        checksum=cp.checksum,
        checksum_status=status,
        expected_checksum=compute_checksum(cp),
        pods=pods,
        inferred=inferred,
        problems=problems,
        error=errors[0] if errors else None,
    )


def _machine_problems(cp: Any, machine: MachineSpec) -> list[str]:
    """Plain-words findings: nodes, NUMA ids and memory types the file uses that the machine lacks."""
    problems = []
    resources = {node.id: {"memory", *node.hugepages} for node in machine.numa_nodes}
    for numa_id in sorted(cp.machine_state or {}):
        if numa_id not in resources:
            problems.append(f"the file describes NUMA node {numa_id}, which the machine does not have")
    for uid, containers in (cp.entries or {}).items():
        for ctr, blocks in (containers or {}).items():
            for block in blocks or []:
                for numa_id in block.numa_affinity or []:
                    if numa_id not in resources:
                        problems.append(
                            f"pod {uid} container {ctr}: a block on NUMA node {numa_id}, not on the machine"
                        )
                    elif block.type not in resources[numa_id]:
                        problems.append(
                            f"pod {uid} container {ctr}: a {block.type} block on NUMA node {numa_id}, "
                            f"which reports no {block.type}"
                        )
    return problems


def _start_error(cp: Any, machine: MachineSpec, kubelet: KubeletSpec) -> str | None:
    """What the kubelet says when it starts with this file, machine and configuration (None: it starts)."""
    from allocator.errors import ConfigError
    from allocator.manager import MemoryManager
    from allocator.restart import NIL_POINTER_PANIC, StartError, StartPanic, has_nil_table, validate_state

    try:
        manager = MemoryManager(machine, kubelet)
    except ConfigError as err:
        return err.error
    if cp.policy_name != manager.policy.name:
        return None  # the policy-name error is reported on its own
    if has_nil_table(cp):
        return f"panic: {NIL_POINTER_PANIC}"
    if manager.policy.name != "Static":
        return None
    try:
        validate_state(cp, manager.policy.default_machine_state())
    except StartError as err:
        return err.message
    except StartPanic as err:
        return f"panic: {err.message}"
    return None


def _as_text(text: str | bytes) -> str:
    return text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text


def _machine_doc(machine: MachineSpec) -> dict[str, Any]:
    """A :class:`MachineSpec` back in the scenario's ``machine`` shape (bytes, hugepage keys inline)."""
    nodes = []
    for node in machine.numa_nodes:
        nodes.append({"id": node.id, "memory": node.memory, **node.hugepages})
    distances = None
    if machine.distances is not None:
        distances = {str(k): {str(t): d for t, d in row.items()} for k, row in machine.distances.items()}
    return {"numa_nodes": nodes, "distances": distances}
