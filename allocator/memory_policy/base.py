"""What every Memory Manager policy provides (kubelet ``memorymanager.Policy``) and shared helpers."""

from __future__ import annotations

from typing import Protocol

from allocator.hints import TopologyHint
from allocator.pods import Container, Pod, is_managed_resource
from allocator.quantities import as_int64
from allocator.state import Block, MemoryState

MEMORY_MANAGER_STAGE = "memory_manager"

# Go converts the int64 request with uint64(...): a negative request wraps around.
_UINT64 = 1 << 64

ProviderHints = dict[str, list[TopologyHint]] | None


class AllocationError(Exception):
    """An error ``Policy.Allocate`` returns; ``message`` is the kubelet's exact text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def get_requested_resources(pod: Pod, container: Container) -> dict[str, int]:
    """Kubelet ``getRequestedResources``: the container's ``memory`` and ``hugepages-*`` requests in bytes
    (``allocatedResources`` of its status when the pod carries one, see :meth:`Pod.requested`).

    Keys are returned sorted, the deterministic stand-in for Go's random map order. Raises
    :class:`AllocationError` when a quantity cannot be represented as int64 (e.g. ``"1.5Gi"``).
    The result is memoised on the pod and shared: do not modify it.
    """
    key = ("requested", container.init, container.name)
    cached = pod.memo.get(key)
    if cached is None:
        cached = pod.memo[key] = _requested(pod, container)
    if isinstance(cached, str):
        raise AllocationError(cached)
    return cached


def _requested(pod: Pod, container: Container) -> dict[str, int] | str:
    requested: dict[str, int] = {}
    requests = pod.requested(container)
    for name in sorted(requests):
        if not is_managed_resource(name):
            continue
        value = as_int64(requests[name])
        if value is None:
            return "[memorymanager] failed to represent quantity as int64"
        requested[name] = value % _UINT64
    return requested


class MemoryPolicy(Protocol):
    """Kubelet ``memorymanager.Policy``."""

    name: str

    def start(self, state: MemoryState) -> None: ...

    def allocate(self, state: MemoryState, pod: Pod, container: Container, hint: TopologyHint) -> None: ...

    def remove_container(self, state: MemoryState, pod_uid: str, container_name: str) -> None: ...

    def get_topology_hints(self, state: MemoryState, pod: Pod, container: Container) -> ProviderHints: ...

    def get_pod_topology_hints(self, state: MemoryState, pod: Pod) -> ProviderHints: ...

    def get_allocatable_memory(self, state: MemoryState) -> list[Block]: ...
