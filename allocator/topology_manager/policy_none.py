"""Topology Manager ``none`` policy (kubelet ``policy_none.go``): no alignment, always admit."""

from __future__ import annotations

from allocator.hints import TopologyHint
from allocator.topology_manager.policy import Policy, ProvidersHints

POLICY_NONE = "none"


class NonePolicy(Policy):
    """Kubelet ``nonePolicy``: ``Merge`` returns the empty hint and admits."""

    name = POLICY_NONE

    def merge(self, providers_hints: ProvidersHints) -> tuple[TopologyHint, bool]:
        return TopologyHint(None, False), True
