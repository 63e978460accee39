"""Errors raised by the allocator.

    AllocatorError
    ├── InputError          a document is malformed: not JSON, wrong type, a quantity that does not
    │                       parse, a malformed pod. Carries the JSON path of the problem.
    └── ConfigError         a well-formed kubelet configuration that the kubelet refuses to start with
                            (reserved memory on an unknown NUMA node, Static without reserved memory,
                            too many NUMA nodes, unknown policy or option, ...). Carries the kubelet's
                            own words.

Admission rejections are *not* exceptions: like the kubelet's ``PodAdmitResult`` they are outcomes
(``TopologyAffinityError``, ``UnexpectedAdmissionError`` with the ``[memorymanager] ...`` text).
"""

from __future__ import annotations

# The kubelet's admission-failure reasons (lifecycle.PodAdmitResult.Reason).
TOPOLOGY_AFFINITY_ERROR = "TopologyAffinityError"
UNEXPECTED_ADMISSION_ERROR = "UnexpectedAdmissionError"


class AllocatorError(Exception):
    """Base class of every error the allocator raises on purpose."""


class InputError(AllocatorError):
    """A malformed document; ``path`` is a JSON path such as ``machine.numa_nodes[1].memory``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class ConfigError(AllocatorError):
    """The kubelet refuses to start with this configuration.

    ``stage`` names where the kubelet fails (e.g. ``memory_manager_new``, ``topology_manager_new``),
    ``error`` and ``kubelet_error`` are the kubelet's exact texts, ``field`` the scenario field to blame.
    """

    def __init__(
        self, stage: str, error: str, kubelet_error: str | None = None, field: str = "kubelet"
    ) -> None:
        super().__init__(error)
        self.stage = stage
        self.error = error
        self.kubelet_error = kubelet_error if kubelet_error is not None else error
        self.field = field

    def as_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "error": self.error, "kubelet_error": self.kubelet_error}
