"""Topology Manager ``best-effort`` policy (kubelet ``policy_best_effort.go``)."""

from __future__ import annotations

from allocator.hints import TopologyHint
from allocator.topology_manager.numa_info import NUMAInfo
from allocator.topology_manager.policy import HintMerger, Policy, ProvidersHints, filter_providers_hints
from allocator.topology_manager.policy_options import PolicyOptions

POLICY_BEST_EFFORT = "best-effort"


class BestEffortPolicy(Policy):
    """Kubelet ``bestEffortPolicy``: merge every provider's hints, admit whatever the result."""

    name = POLICY_BEST_EFFORT

    def __init__(self, numa_info: NUMAInfo, opts: PolicyOptions) -> None:
        self.numa_info = numa_info
        self.opts = opts

    def can_admit_pod_result(self, hint: TopologyHint) -> bool:
        """Kubelet ``canAdmitPodResult``: best-effort always admits."""
        return True

    def merge(self, providers_hints: ProvidersHints) -> tuple[TopologyHint, bool]:
        filtered = filter_providers_hints(providers_hints)
        best = HintMerger(self.numa_info, filtered, self.name, self.opts).merge()
        return best, self.can_admit_pod_result(best)
