"""The Memory Manager's policies: ``Static`` (NUMA pinning) and ``None`` (no pinning).

Mirrors ``pkg/kubelet/cm/memorymanager/policy*.go``; :func:`new_policy` is the policy switch of the
kubelet's ``memorymanager.NewManager``.
"""

from __future__ import annotations

from allocator.memory_policy.base import (
    MEMORY_MANAGER_STAGE,
    AllocationError,
    MemoryPolicy,
    get_requested_resources,
)
from allocator.memory_policy.none import POLICY_NONE, NonePolicy
from allocator.memory_policy.static import POLICY_STATIC, StaticPolicy, new_policy

__all__ = [
    "MEMORY_MANAGER_STAGE",
    "POLICY_NONE",
    "POLICY_STATIC",
    "AllocationError",
    "MemoryPolicy",
    "NonePolicy",
    "StaticPolicy",
    "get_requested_resources",
    "new_policy",
]
