"""The ``--reserved-memory`` flag (``0:memory=1Gi,hugepages-1Gi=2Gi;1:memory=1Gi``) -> reserved memory.

With the texts of the kubelet's own flag parser (``ReservedMemoryVar.Set``).
"""

from __future__ import annotations

import re

from allocator.errors import InputError
from allocator.quantities import parse_quantity
from allocator.scenario import ReservedMemorySpec, join_path

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
