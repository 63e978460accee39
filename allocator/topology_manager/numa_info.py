"""NUMA information the topology manager policies need: the node ids and their distances.

Mirrors ``pkg/kubelet/cm/topologymanager/numa_info.go``. Distances are read the kubelet's way:
``distances[id1][id2]`` with each row indexed by NUMA **id** (cadvisor's ``Node.Distances`` is the
sysfs row, so on machines with non-contiguous ids a short row makes the kubelet panic with an
index-out-of-range error; ``KubeletPanic`` reproduces that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

from allocator.bitmask import ids_of, is_narrower_than, mask_of

DistanceRow: TypeAlias = Sequence[int] | Mapping[int, int]


class KubeletPanic(Exception):
    """The kubelet's Go code panics at this point; ``value`` is the panic value as Go prints it."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


def _row_len(row: DistanceRow | None) -> int:
    return 0 if row is None else len(row)


def _row_get(row: DistanceRow | None, index: int) -> int | None:
    """``row[index]`` or ``None`` when a Go slice of the same contents would be indexed out of range."""
    if row is None:
        return None
    if isinstance(row, Mapping):
        return row.get(index)
    if 0 <= index < len(row):
        return row[index]
    return None


class NUMAInfo:
    """Kubelet ``NUMAInfo``: ``nodes`` in topology order and ``distances`` keyed by NUMA id.

    Per-mask distance sums are cached: the kubelet recomputes the average for every comparison,
    here each mask is summed once per policy.
    """

    __slots__ = ("_complete", "_sum_cache", "default_mask", "distances", "nodes")

    def __init__(
        self, nodes: Sequence[int], distances: Mapping[int, DistanceRow | None] | None = None
    ) -> None:
        self.nodes: list[int] = list(nodes)
        self.distances: dict[int, DistanceRow | None] = dict(distances) if distances else {}
        self.default_mask: int = mask_of(self.nodes)
        self._sum_cache: dict[int, int] = {}
        self._complete = all(
            _row_get(self.distances.get(a), b) is not None for a in self.nodes for b in self.nodes
        )

    @property
    def distances_complete(self) -> bool:
        """Whether every ``distances[a][b]`` for node ids a, b exists (no comparison can panic)."""
        return self._complete

    def default_affinity_mask(self) -> int:
        """Kubelet ``NUMAInfo.DefaultAffinityMask``: every NUMA node of the machine."""
        return self.default_mask

    def distance_sum(self, mask: int) -> int:
        """Sum of ``distances[a][b]`` over all ordered pairs of bits of ``mask``.

        For masks of equal size the kubelet's average (sum / count^2, float64) orders exactly as this
        integer sum does, so comparisons use the sum. Raises ``KubeletPanic`` where the kubelet's
        slice indexing would.
        """
        cached = self._sum_cache.get(mask)
        if cached is not None:
            return cached
        bits = ids_of(mask)
        total = 0
        for a in bits:
            row = self.distances.get(a)
            for b in bits:
                value = _row_get(row, b)
                if value is None:
                    raise KubeletPanic(f"runtime error: index out of range [{b}] with length {_row_len(row)}")
                total += value
        self._sum_cache[mask] = total
        return total

    def calculate_average_for(self, mask: int) -> float:
        """Kubelet ``NUMADistances.CalculateAverageFor``."""
        count = mask.bit_count()
        if count == 0:
            return 0.0
        return float(self.distance_sum(mask)) / float(count * count)

    def narrowest(self, m1: int, m2: int) -> int:
        """Kubelet ``NUMAInfo.Narrowest``."""
        return m1 if is_narrower_than(m1, m2) else m2

    def closest(self, m1: int, m2: int) -> int:
        """Kubelet ``NUMAInfo.Closest``: narrowest on different sizes, else shortest average distance,
        ties to the mask with more lower-numbered bits."""
        if m1.bit_count() != m2.bit_count():
            return self.narrowest(m1, m2)
        d1 = self.distance_sum(m1)
        d2 = self.distance_sum(m2)
        if d1 == d2:
            return m1 if m1 < m2 else m2
        return m1 if d1 < d2 else m2


def new_numa_info(
    nodes: Sequence[int],
    distances: Mapping[int, DistanceRow | None] | None,
    prefer_closest_numa: bool,
) -> NUMAInfo:
    """Kubelet ``NewNUMAInfo``; raises ``ValueError("error getting NUMA distances from cadvisor")``
    when the option needs distances that the machine does not report."""
    rows: dict[int, DistanceRow | None] = {}
    for node in nodes:
        row: DistanceRow | None = None
        if prefer_closest_numa:
            row = None if distances is None else distances.get(node)
            if row is None:
                raise ValueError("error getting NUMA distances from cadvisor")
        rows[node] = row
    return NUMAInfo(nodes, rows)
