"""Topology Manager ``single-numa-node`` policy (kubelet ``policy_single_numa_node.go``)."""

from __future__ import annotations

from collections.abc import Sequence

from allocator.hints import TopologyHint
from allocator.topology_manager.policy import HintMerger, ProvidersHints, filter_providers_hints
from allocator.topology_manager.policy_restricted import RestrictedPolicy

POLICY_SINGLE_NUMA_NODE = "single-numa-node"


def filter_single_numa_hints(
    all_resources_hints: Sequence[Sequence[TopologyHint]],
) -> list[list[TopologyHint]]:
    """Kubelet ``filterSingleNumaHints``: keep only preferred "don't care" and preferred one-node hints."""
    filtered: list[list[TopologyHint]] = []
    for resource_hints in all_resources_hints:
        filtered.append(
            [
                h
                for h in resource_hints
                if h.preferred and (h.numa_affinity is None or h.numa_affinity.bit_count() == 1)
            ]
        )
    return filtered


class SingleNumaNodePolicy(RestrictedPolicy):
    """Kubelet ``singleNumaNodePolicy``: the merged hint must be a preferred single NUMA node.

    Its ``canAdmitPodResult`` is restricted's (only a preferred result is admitted); what differs is
    that only single-node hints reach the merge.
    """

    name = POLICY_SINGLE_NUMA_NODE

    def merge(self, providers_hints: ProvidersHints) -> tuple[TopologyHint, bool]:
        filtered = filter_providers_hints(providers_hints)
        single = filter_single_numa_hints(filtered)
        best = HintMerger(self.numa_info, single, self.name, self.opts).merge()
        # A result spanning the whole machine means "any node": the kubelet reports it as nil.
        if best.numa_affinity == self.numa_info.default_mask:
            best = TopologyHint(None, best.preferred)
        return best, self.can_admit_pod_result(best)
