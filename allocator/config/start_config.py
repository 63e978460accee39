"""The configuration under test: the settings the kubelet's start-up path reads, and its outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from allocator.config.quantity import GoQuantity
from allocator.errors import ConfigError

POLICY_STATIC = "Static"
POLICY_NONE = "None"
POLICY_BEST_EFFORT = "BestEffort"


@dataclass
class NodeInfo:
    """A NUMA node as cadvisor reports it: id, memory and hugepage pools (``hugepages-<size>``)."""

    id: int
    memory: int
    hugepages: dict[str, int]
    cpus: int = 0


@dataclass
class StartConfig:
    """The settings the start-up path reads, with the kubelet's own defaults already applied."""

    nodes: list[NodeInfo]
    distances: Mapping[int, Any] | None
    memory_manager_policy: str
    topology_manager_policy: str
    topology_manager_scope: str
    topology_manager_policy_options: dict[str, str]
    reserved_memory: list[tuple[int, dict[str, GoQuantity]]]
    kube_reserved: dict[str, str]
    system_reserved: dict[str, str]
    eviction_hard: dict[str, str] | None
    merge_default_eviction_settings: bool = False
    feature_gates: dict[str, bool] = field(default_factory=dict)
    node_allocatable_override: dict[str, GoQuantity] | None = None
    previous: StartConfig | None = None


@dataclass
class StartOutcome:
    """What taking a configuration through the start-up path gives (the config-errors ``expect``)."""

    stages_passed: list[str] | None
    failure: ConfigError | None
    capacity: dict[str, GoQuantity] | None = None
    node_allocatable_reservation: dict[str, GoQuantity] | None = None
    system_reserved_memory: dict[int, dict[str, int]] | None = None
    machine_state: dict[str, dict[str, dict[str, int]]] | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": "ok" if self.ok else "error", "stages_passed": self.stages_passed}
        if self.failure is not None:
            out["failure"] = self.failure.as_dict()
        if self.capacity is not None:
            out["capacity"] = {k: str(v) for k, v in sorted(self.capacity.items())}
        if self.node_allocatable_reservation is not None:
            out["node_allocatable_reservation"] = {
                k: str(v) for k, v in sorted(self.node_allocatable_reservation.items())
            }
        if self.machine_state is not None:
            out["machine_state"] = self.machine_state
        return out


class ConfigPanic(ConfigError):
    """The kubelet panics at this stage (``kubelet_error`` is ``panic: <value>``)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(super().as_dict())
        out["panic"] = True
        return out
