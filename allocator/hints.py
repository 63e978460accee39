"""The topology hint: a NUMA affinity mask and whether it is a preferred placement.

Mirrors the kubelet's ``topologymanager.TopologyHint``. ``numa_affinity`` is a mask int (see
``allocator.bitmask``) or ``None`` for the kubelet's nil mask ("no preference for any NUMA node").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allocator.bitmask import ids_of, is_narrower_than, mask_of


@dataclass(frozen=True, slots=True)
class TopologyHint:
    """Kubelet ``TopologyHint{NUMANodeAffinity, Preferred}``."""

    numa_affinity: int | None
    preferred: bool

    def is_equal(self, other: TopologyHint) -> bool:
        """Kubelet ``TopologyHint.IsEqual``: same preference and same (or both nil) affinity."""
        return self.preferred == other.preferred and self.numa_affinity == other.numa_affinity

    def less_than(self, other: TopologyHint) -> bool:
        """Kubelet ``TopologyHint.LessThan``: preferred first, then the narrower affinity.

        Both affinities must be set, as in the kubelet (which dereferences them).
        """
        if self.preferred != other.preferred:
            return self.preferred
        assert self.numa_affinity is not None and other.numa_affinity is not None
        return is_narrower_than(self.numa_affinity, other.numa_affinity)

    def to_json(self) -> dict[str, Any]:
        """``{"numa_affinity": [ids] | None, "preferred": bool}`` as in the vectors."""
        return {
            "numa_affinity": None if self.numa_affinity is None else ids_of(self.numa_affinity),
            "preferred": self.preferred,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TopologyHint:
        """Inverse of ``to_json``."""
        ids = doc.get("numa_affinity")
        return cls(None if ids is None else mask_of(ids), bool(doc["preferred"]))

    def __repr__(self) -> str:
        ids = None if self.numa_affinity is None else ids_of(self.numa_affinity)
        return f"TopologyHint({ids}, {self.preferred})"


def hints_to_json(hints: list[TopologyHint] | None) -> list[dict[str, Any]] | None:
    """A hint list (or the kubelet's nil list) in the vectors' JSON shape."""
    if hints is None:
        return None
    return [h.to_json() for h in hints]
