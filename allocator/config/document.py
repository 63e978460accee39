"""A document's ``machine`` / ``kubelet`` / ``previous_run`` sections read into a :class:`StartConfig`.

A scenario document takes the scenario format's defaults, any other document is a ``KubeletConfiguration``
and takes the v1beta1 defaults (see :func:`start_config_from_document`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from allocator.config.memory_manager import reserved_totals
from allocator.config.quantity import GoQuantity, is_hugepage, quantity_of
from allocator.config.start_config import POLICY_NONE, POLICY_STATIC, NodeInfo, StartConfig
from allocator.errors import InputError


def _string_map(value: object, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(path, "expected an object")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[str(key)] = "true" if item else "false"
        elif isinstance(item, int):
            out[str(key)] = str(item)
        elif isinstance(item, str):
            out[str(key)] = item
        else:
            raise InputError(f"{path}.{key}", "expected a string")
    return out


def _parse_nodes(machine: Mapping[str, Any]) -> list[NodeInfo]:
    raw_nodes = machine.get("numa_nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise InputError("machine.numa_nodes", "a machine needs at least one NUMA node")
    nodes = []
    for index, raw in enumerate(raw_nodes):
        path = f"machine.numa_nodes[{index}]"
        if not isinstance(raw, Mapping) or "id" not in raw:
            raise InputError(path, "expected an object with an id")
        memory = quantity_of(raw.get("memory", 0), f"{path}.memory").value
        hugepages = {
            k: int(quantity_of(v, f"{path}.{k}").value)
            for k, v in raw.items()
            if isinstance(k, str) and is_hugepage(k)
        }
        cpus = raw.get("cpus")
        nodes.append(
            NodeInfo(int(raw["id"]), int(memory), hugepages, len(cpus) if isinstance(cpus, list) else 0)
        )
    return nodes


def _parse_distances(machine: Mapping[str, Any], nodes: Sequence[NodeInfo]) -> dict[int, Any] | None:
    raw = machine.get("distances")
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        return {int(k): v for k, v in raw.items()}
    if isinstance(raw, list):
        # Row i belongs to the i-th node and is indexed by NUMA id, as the kubelet reads it.
        return {node.id: row for node, row in zip(nodes, raw, strict=False)}
    raise InputError("machine.distances", "expected an array of rows")


def _parse_reserved_memory(value: object, path: str) -> list[tuple[int, dict[str, GoQuantity]]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(path, "expected an array")
    out = []
    for index, raw in enumerate(value):
        entry_path = f"{path}[{index}]"
        if not isinstance(raw, Mapping):
            raise InputError(entry_path, "expected an object")
        numa = raw.get("numa_node", raw.get("numaNode"))
        if isinstance(numa, bool) or not isinstance(numa, int):
            raise InputError(f"{entry_path}.numa_node", "expected an integer")
        limits = raw.get("limits") or {}
        if not isinstance(limits, Mapping):
            raise InputError(f"{entry_path}.limits", "expected an object")
        out.append((numa, {str(k): quantity_of(v, f"{entry_path}.limits.{k}") for k, v in limits.items()}))
    return out


def _kubelet_section(
    kubelet: Mapping[str, Any], nodes: list[NodeInfo], distances: Any, scenario: bool, path: str = "kubelet"
) -> StartConfig:
    def text(key: str, default: str) -> str:
        value = kubelet.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str):
            raise InputError(f"{path}.{key}", "expected a string")
        return value

    gates_raw = kubelet.get("feature_gates") or {}
    if not isinstance(gates_raw, Mapping):
        raise InputError(f"{path}.feature_gates", "expected an object")
    eviction = kubelet.get("eviction_hard")
    nar = kubelet.get("node_allocatable_reservation")
    return StartConfig(
        nodes=nodes,
        distances=distances,
        # The scenario format defaults to Static; a KubeletConfiguration (v1beta1) to None.
        memory_manager_policy=text("memory_manager_policy", POLICY_STATIC if scenario else POLICY_NONE),
        topology_manager_policy=text("topology_manager_policy", "none"),
        topology_manager_scope=text("topology_manager_scope", "container"),
        topology_manager_policy_options=_string_map(
            kubelet.get("topology_manager_policy_options"), f"{path}.topology_manager_policy_options"
        ),
        reserved_memory=_parse_reserved_memory(kubelet.get("reserved_memory"), f"{path}.reserved_memory"),
        kube_reserved=_string_map(kubelet.get("kube_reserved"), f"{path}.kube_reserved"),
        system_reserved=_string_map(kubelet.get("system_reserved"), f"{path}.system_reserved"),
        eviction_hard=None if eviction is None else _string_map(eviction, f"{path}.eviction_hard"),
        merge_default_eviction_settings=bool(kubelet.get("merge_default_eviction_settings", False)),
        feature_gates={str(k): bool(v) for k, v in gates_raw.items()},
        node_allocatable_override=None
        if nar is None
        else {str(k): quantity_of(v, f"{path}.node_allocatable_reservation.{k}") for k, v in nar.items()},
    )


def start_config_from_document(doc: Mapping[str, Any]) -> StartConfig:
    """The start-up settings of a document with ``machine`` and ``kubelet`` (and ``previous_run``).

    A scenario document (one with ``steps``) takes the scenario format's defaults (memory manager
    ``Static``, node allocatable = the reserved memory unless kube/system reserved or eviction say
    otherwise); any other document is a ``KubeletConfiguration`` and takes the v1beta1 defaults
    (memory manager ``None``, the Linux ``evictionHard`` defaults), as in the config-errors examples.
    """
    machine = doc.get("machine")
    if not isinstance(machine, Mapping):
        raise InputError("machine", "required")
    kubelet = doc.get("kubelet") or {}
    if not isinstance(kubelet, Mapping):
        raise InputError("kubelet", "expected an object")
    scenario = "steps" in doc
    nodes = _parse_nodes(machine)
    distances = _parse_distances(machine, nodes)
    config = _kubelet_section(kubelet, nodes, distances, scenario)
    if (
        scenario
        and config.node_allocatable_override is None
        and not ("kube_reserved" in kubelet or "system_reserved" in kubelet or "eviction_hard" in kubelet)
    ):
        # The vectors' convention: node allocatable is the per-resource sum of reserved memory.
        config.node_allocatable_override = reserved_totals(config.reserved_memory)
    previous = doc.get("previous_run")
    if isinstance(previous, Mapping):
        config.previous = _kubelet_section(previous, nodes, distances, scenario, "previous_run")
    return config
