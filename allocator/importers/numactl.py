"""``numactl --hardware`` output -> the scenario ``machine`` section."""

from __future__ import annotations

import re
from typing import Any

from allocator.errors import InputError
from allocator.scenario import MachineSpec, parse_machine

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
