"""The kubelet's Topology Manager: policies, options, NUMA info and hint merging.

Mirrors ``pkg/kubelet/cm/topologymanager``. Entry points:

- ``new_policy(name, numa_ids, distances, options)`` -> ``Policy`` (raises ``ConfigError``)
- ``new_manager(policy, scope, numa_ids, distances, options)`` -> ``TopologyManagerConfig``
- ``Policy.merge(providers_hints)`` -> ``(best hint, admit)``
"""

from __future__ import annotations

from allocator.topology_manager.numa_info import KubeletPanic, NUMAInfo
from allocator.topology_manager.policy import (
    HintMerger,
    Policy,
    filter_providers_hints,
    iterate_all_provider_topology_hints,
    max_of_min_affinity_counts,
    merge_permutation,
)
from allocator.topology_manager.policy_options import (
    DEFAULT_MAX_ALLOWABLE_NUMA_NODES,
    MAX_ALLOWABLE_NUMA_NODES,
    PREFER_CLOSEST_NUMA_NODES,
    PolicyOptions,
    new_policy_options,
    validate_options,
)
from allocator.topology_manager.topology_manager import (
    CONTAINER_SCOPE,
    POD_SCOPE,
    POLICY_BEST_EFFORT,
    POLICY_NONE,
    POLICY_RESTRICTED,
    POLICY_SINGLE_NUMA_NODE,
    TopologyManagerConfig,
    new_manager,
    new_policy,
    new_scope,
)

__all__ = [
    "CONTAINER_SCOPE",
    "DEFAULT_MAX_ALLOWABLE_NUMA_NODES",
    "MAX_ALLOWABLE_NUMA_NODES",
    "POD_SCOPE",
    "POLICY_BEST_EFFORT",
    "POLICY_NONE",
    "POLICY_RESTRICTED",
    "POLICY_SINGLE_NUMA_NODE",
    "PREFER_CLOSEST_NUMA_NODES",
    "HintMerger",
    "KubeletPanic",
    "NUMAInfo",
    "Policy",
    "PolicyOptions",
    "TopologyManagerConfig",
    "filter_providers_hints",
    "iterate_all_provider_topology_hints",
    "max_of_min_affinity_counts",
    "merge_permutation",
    "new_manager",
    "new_policy",
    "new_policy_options",
    "new_scope",
    "validate_options",
]
