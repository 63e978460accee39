"""The Memory Manager facade (skeleton: final method names; the engine lands next)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Outcome:
    """What one step produced: ``result`` has exactly the vector ``expect`` keys of the op."""

    result: dict[str, Any]
    explanation: dict[str, Any] | None = None


class MemoryManager:
    """Drives the Memory Manager and Topology Manager admission like the kubelet (see docs/CONTRACTS.md)."""

    def __init__(self, machine: Any, kubelet: Any) -> None:
        self.machine = machine
        self.kubelet = kubelet

    @classmethod
    def from_scenario(cls, scenario: Any) -> MemoryManager:
        return cls(scenario.machine, scenario.kubelet)

    def initial_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def apply(self, step: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def numa_groups(self) -> dict[str, Any]:
        raise NotImplementedError

    def checkpoint(self) -> dict[str, Any]:
        raise NotImplementedError

    def checkpoint_file(self) -> str:
        raise NotImplementedError

    def active_pods(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def assignments(self) -> dict[str, Any]:
        raise NotImplementedError

    def metrics(self) -> dict[str, int]:
        raise NotImplementedError

    def to_snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> MemoryManager:
        raise NotImplementedError
