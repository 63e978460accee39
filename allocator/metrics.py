"""The kubelet's Memory and Topology Manager metrics, counted by the kubelet's own rules.

Mirrors the counters of ``pkg/kubelet/metrics/metrics.go`` that the two managers move:

* ``topology_manager_admission_requests_total`` and the sample count of
  ``topology_manager_admission_duration_ms``: once per ``topologyManager.Admit`` (every admit step,
  every policy including ``none``);
* ``topology_manager_admission_errors_total``: the scope rejected the pod (merge did not admit, or a
  provider's ``Allocate`` failed) -- never with policy ``none``, whose scope counts nothing;
* ``memory_manager_pinning_requests_total`` / ``_errors_total``: every Static ``Allocate`` of a
  Guaranteed container without pod-level resources / every such call that failed;
* ``container_aligned_compute_resources_count`` / ``_failure_count`` with labels ``scope`` and
  ``boundary="numa_node"``: only with ``single-numa-node``; the four series exist (at 0) for every
  policy except ``none`` because ``NewManager`` initialises them.

:meth:`Metrics.series` renders them keyed like ``tests/data/kubelet-examples/metrics``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Metrics", "series_key"]

ALIGNED_COUNT = "kubelet_container_aligned_compute_resources_count"
ALIGNED_FAILURE = "kubelet_container_aligned_compute_resources_failure_count"
BOUNDARY_NUMA_NODE = "numa_node"


def series_key(name: str, labels: dict[str, str] | None = None) -> str:
    """``<name>{<label>="<value>",...}`` with labels sorted by name; ``<name>{}`` without labels."""
    inner = ",".join(f'{key}="{value}"' for key, value in sorted((labels or {}).items()))
    return f"{name}{{{inner}}}"


@dataclass(slots=True)
class Metrics:
    """Cumulative counters of one kubelet process (every counter starts at 0, like a fresh registry)."""

    admission_requests: int = 0
    admission_duration_count: int = 0
    admission_errors: int = 0
    pinning_requests: int = 0
    pinning_errors: int = 0
    aligned_container: int = 0
    aligned_pod: int = 0
    aligned_failure_container: int = 0
    aligned_failure_pod: int = 0
    # ``topologymanager.NewManager`` creates the aligned series for every policy but ``none``.
    aligned_series: bool = True

    def aligned(self, scope: str) -> None:
        """``ContainerAlignedComputeResources{scope, boundary="numa_node"}.Inc()``."""
        if scope == "pod":
            self.aligned_pod += 1
        else:
            self.aligned_container += 1

    def aligned_failure(self, scope: str) -> None:
        """``ContainerAlignedComputeResourcesFailure{scope, boundary="numa_node"}.Inc()``."""
        if scope == "pod":
            self.aligned_failure_pod += 1
        else:
            self.aligned_failure_container += 1

    def series(self) -> dict[str, int]:
        """The series as the metric files key them, keys sorted."""
        out = {
            series_key("kubelet_memory_manager_pinning_errors_total"): self.pinning_errors,
            series_key("kubelet_memory_manager_pinning_requests_total"): self.pinning_requests,
            series_key("kubelet_topology_manager_admission_duration_ms_count"): self.admission_duration_count,
            series_key("kubelet_topology_manager_admission_errors_total"): self.admission_errors,
            series_key("kubelet_topology_manager_admission_requests_total"): self.admission_requests,
        }
        if self.aligned_series:
            for name, container, pod in (
                (ALIGNED_COUNT, self.aligned_container, self.aligned_pod),
                (ALIGNED_FAILURE, self.aligned_failure_container, self.aligned_failure_pod),
            ):
                out[series_key(name, {"boundary": BOUNDARY_NUMA_NODE, "scope": "container"})] = container
                out[series_key(name, {"boundary": BOUNDARY_NUMA_NODE, "scope": "pod"})] = pod
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Metrics:
        return cls(**doc)
