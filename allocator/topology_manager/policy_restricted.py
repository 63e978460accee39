"""Topology Manager ``restricted`` policy (kubelet ``policy_restricted.go``)."""

from __future__ import annotations

from allocator.hints import TopologyHint
from allocator.topology_manager.policy_best_effort import BestEffortPolicy

POLICY_RESTRICTED = "restricted"


class RestrictedPolicy(BestEffortPolicy):
    """Kubelet ``restrictedPolicy``: it embeds ``bestEffortPolicy`` and merges like it, but admits only a
    preferred result. (Go restates ``Merge`` because an embedded method would call the embedded
    ``canAdmitPodResult``; here the override is found by ordinary dispatch.)"""

    name = POLICY_RESTRICTED

    def can_admit_pod_result(self, hint: TopologyHint) -> bool:
        """Kubelet ``canAdmitPodResult``: only preferred hints are admitted."""
        return hint.preferred
