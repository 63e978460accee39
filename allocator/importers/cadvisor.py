"""cadvisor's ``MachineInfo`` JSON -> the scenario ``machine`` section."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from allocator.errors import InputError
from allocator.quantities import format_quantity
from allocator.scenario import MachineSpec, join_path, parse_machine


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
