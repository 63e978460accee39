"""The ``None`` Memory Manager policy (kubelet ``policy_none.go``): no pinning, no hints."""

from __future__ import annotations

from allocator.hints import TopologyHint
from allocator.memory_policy.base import ProviderHints
from allocator.pods import Container, Pod
from allocator.state import Block, MemoryState

POLICY_NONE = "None"


class NonePolicy:
    """Kubelet ``policyNone``: every call is a no-op and the machine state stays empty."""

    name = POLICY_NONE

    def start(self, state: MemoryState) -> None:
        """``policyNone.Start``: nothing to validate or initialise."""

    def allocate(self, state: MemoryState, pod: Pod, container: Container, hint: TopologyHint) -> None:
        """``policyNone.Allocate``: nothing is pinned."""

    def remove_container(self, state: MemoryState, pod_uid: str, container_name: str) -> None:
        """``policyNone.RemoveContainer``."""

    def get_topology_hints(self, state: MemoryState, pod: Pod, container: Container) -> ProviderHints:
        """``policyNone.GetTopologyHints``: no preference."""
        return None

    def get_pod_topology_hints(self, state: MemoryState, pod: Pod) -> ProviderHints:
        """``policyNone.GetPodTopologyHints``: no preference."""
        return None

    def get_allocatable_memory(self, state: MemoryState) -> list[Block]:
        """``policyNone.GetAllocatableMemory``."""
        return []
