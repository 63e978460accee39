"""The MemoryManager facade: the kubelet's Memory Manager driven by its Topology Manager admission.

It reproduces the call sequence the kubelet makes (and the vectors were recorded with):

* start-up: ``topologymanager.NewManager`` then ``memorymanager.NewManager`` and ``Start`` (either may
  refuse the configuration: :class:`ConfigError`);
* ``admit``: ``topologyManager.Admit`` -- the ``none``, ``container`` or ``pod`` scope loop of
  ``scope*.go`` gathering hints, merging them and calling ``Allocate`` -- then, if admitted, the
  container starts (``AddContainer`` for every init and app container, releasing earlier regular init
  containers);
* ``remove``: the pod leaves the active set and ``RemoveContainer`` runs for each started container;
* ``removeStaleState`` before every hint and allocate call drops blocks of containers that belong to
  no active pod (the pod being admitted counts as active), e.g. a rejected pod's partial allocation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from allocator.config import validate as validate_config
from allocator.errors import TOPOLOGY_AFFINITY_ERROR, UNEXPECTED_ADMISSION_ERROR, InputError
from allocator.explain import Evaluation, build_explanation
from allocator.hints import TopologyHint
from allocator.memory_policy import AllocationError, NonePolicy, StaticPolicy, new_policy
from allocator.metrics import Metrics
from allocator.pods import Container, Pod, parse_pod
from allocator.state import Block, MemoryState, blocks_to_json
from allocator.topology_manager import KubeletPanic, new_manager

__all__ = ["MemoryManager", "Outcome"]

TOPOLOGY_AFFINITY_MESSAGE = "Resources cannot be allocated with Topology locality"
POLICY_SINGLE_NUMA_NODE = "single-numa-node"
POLICY_NONE = "none"


class Outcome:
    """What one step produced: ``result`` has exactly the vector ``expect`` keys of the op.

    ``explanation`` (admit steps) is built on first access from data captured at the step, so
    callers that only need the result do not pay for it.
    """

    __slots__ = ("_explain", "_explanation", "result")

    def __init__(
        self,
        result: dict[str, Any],
        explanation: dict[str, Any] | None = None,
        explain: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.result = result
        self._explanation = explanation
        self._explain = explain

    @property
    def explanation(self) -> dict[str, Any] | None:
        if self._explain is not None:
            self._explanation = self._explain()
            self._explain = None
        return self._explanation

    def __repr__(self) -> str:
        return f"Outcome(result={self.result!r})"


# Rendered hints, shared between outcomes (read-only): a 16-node machine yields 65,535 per resource.
_HINT_JSON: dict[tuple[int | None, bool], dict[str, Any]] = {}


def _hint_json(hint: TopologyHint) -> dict[str, Any]:
    key = (hint.numa_affinity, hint.preferred)
    rendered = _HINT_JSON.get(key)
    if rendered is None:
        if len(_HINT_JSON) >= 1 << 18:
            _HINT_JSON.clear()
        mask = hint.numa_affinity
        ids: list[int] | None = None
        if mask is not None:
            ids = []
            while mask:
                low = mask & -mask
                ids.append(low.bit_length() - 1)
                mask ^= low
        rendered = _HINT_JSON[key] = {"numa_affinity": ids, "preferred": hint.preferred}
    return rendered


def _hints_json(hints: dict[str, list[TopologyHint]] | None) -> dict[str, Any] | None:
    if hints is None:
        return None
    rendered: dict[str, Any] = {}
    for resource in sorted(hints):
        hint_list = hints[resource]
        if rendered and hint_list is not None and hint_list == hints[next(iter(sorted(hints)))]:
            # Every resource of calculateHints has the same list: render it once.
            rendered[resource] = list(rendered[next(iter(rendered))])
            continue
        rendered[resource] = [_hint_json(h) for h in hint_list]
    return rendered


def _unexpected_message(error: str) -> str:
    """``admission.GetPodAdmitResult`` for a plain error."""
    return f"Allocate failed due to {error}, which is unexpected"


class MemoryManager:
    """The kubelet's Memory Manager + Topology Manager for one node (see docs/CONTRACTS.md section 1)."""

    def __init__(self, machine: Any, kubelet: Any) -> None:
        self.machine = machine
        self.kubelet = kubelet
        # topologymanager.NewManager then memorymanager.NewManager, with the kubelet's start-up texts.
        system_reserved = validate_config(machine, kubelet)
        self.topology = new_manager(
            kubelet.topology_manager_policy,
            kubelet.topology_manager_scope,
            [node.id for node in machine.numa_nodes],
            machine.distances,
            dict(kubelet.topology_manager_policy_options),
        )
        self.tm_policy_name: str = self.topology.policy.name
        self._metrics = Metrics(aligned_series=self.tm_policy_name != POLICY_NONE)
        nodes = [(node.id, node.memory, dict(node.hugepages)) for node in machine.numa_nodes]
        self.policy: StaticPolicy | NonePolicy = new_policy(
            kubelet.memory_manager_policy, nodes, system_reserved, self._metrics
        )
        self.memory_state = MemoryState({})
        self.policy.start(self.memory_state)
        self._initial_state = self.memory_state.state_json()
        # Admitted, not removed pods in admission order, and the container map (started containers).
        self._active: dict[str, Pod] = {}
        self._container_map: dict[tuple[str, str], str] = {}
        self._admitting: Pod | None = None
        # Set whenever blocks may belong to no active pod; the next sweep clears it.
        self._maybe_stale = False

    @classmethod
    def from_scenario(cls, scenario: Any) -> MemoryManager:
        return cls(scenario.machine, scenario.kubelet)

    # -- read views ------------------------------------------------------------------------------

    @property
    def scope(self) -> str | None:
        """``container`` or ``pod``; ``None`` with topology policy ``none`` (its scope is ``noneScope``)."""
        return self.topology.scope

    def initial_state(self) -> dict[str, Any]:
        return self._initial_state

    def state(self) -> dict[str, Any]:
        """The machine state (vectors' format), a fresh copy the caller may modify."""
        return {
            key: {name: dict(table) for name, table in tables.items()}
            for key, tables in self.memory_state.state_json().items()
        }

    def numa_groups(self) -> dict[str, Any]:
        """``{"<id>": {"cells", "number_of_assignments"}}``, a fresh copy the caller may modify."""
        return {
            key: {"cells": list(group["cells"]), "number_of_assignments": group["number_of_assignments"]}
            for key, group in self.memory_state.numa_groups_json().items()
        }

    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint document (no checksum). Shared with the step outcomes: treat as read-only."""
        return self.memory_state.checkpoint_json(self.policy.name)

    def checkpoint_file(self) -> str:
        from allocator.checkpoint import encode_checkpoint

        doc = self.checkpoint()
        return encode_checkpoint(doc["policyName"], doc["machineState"], doc.get("entries"))

    def active_pods(self) -> list[dict[str, Any]]:
        return [pod.raw for pod in self._active.values()]

    def assignments(self) -> dict[str, Any]:
        """``{pod_uid: {container: [{"numa_affinity", "type", "size"}]}}``, blocks sorted by type."""
        return {
            uid: {name: blocks_to_json(blocks) for name, blocks in containers.items()}
            for uid, containers in self.memory_state.assignments.items()
        }

    def metrics(self) -> dict[str, int]:
        return self._metrics.series()

    def pod_blocks(self, pod_uid: str) -> dict[str, list[dict[str, Any]]]:
        """The blocks of each container of ``pod_uid`` in the state, sorted by type."""
        containers = self.memory_state.assignments.get(pod_uid, {})
        return {name: blocks_to_json(blocks) for name, blocks in containers.items()}

    # -- the memory manager wrapper (memory_manager.go) --------------------------------------------

    def remove_stale_state(self) -> None:
        """Kubelet ``manager.removeStaleState``: drop blocks of containers of no active pod."""
        if not self._maybe_stale:
            return
        active: dict[str, set[str]] = {}
        pods = list(self._active.values())
        if self._admitting is not None:
            pods.append(self._admitting)
        for pod in pods:
            active.setdefault(pod.uid, set()).update(c.name for c in pod.all_containers)
        for uid, containers in list(self.memory_state.assignments.items()):
            for name in list(containers):
                if name not in active.get(uid, ()):
                    self._remove_container_by_ref(uid, name)
        self._maybe_stale = False

    def _remove_container_by_ref(self, pod_uid: str, container_name: str) -> None:
        """Kubelet ``policyRemoveContainerByRef``."""
        self.policy.remove_container(self.memory_state, pod_uid, container_name)
        self._container_map.pop((pod_uid, container_name), None)

    def get_topology_hints(self, pod: Pod, container: Container) -> dict[str, list[TopologyHint]] | None:
        self.remove_stale_state()
        return self.policy.get_topology_hints(self.memory_state, pod, container)

    def get_pod_topology_hints(self, pod: Pod) -> dict[str, list[TopologyHint]] | None:
        self.remove_stale_state()
        return self.policy.get_pod_topology_hints(self.memory_state, pod)

    def allocate(self, pod: Pod, container: Container, hint: TopologyHint) -> str | None:
        """Kubelet ``manager.Allocate`` with the topology manager's affinity; the error text or None."""
        self.remove_stale_state()
        try:
            self.policy.allocate(self.memory_state, pod, container, hint)
        except AllocationError as error:
            return error.message
        return None

    def add_container(self, pod: Pod, container: Container) -> None:
        """Kubelet ``manager.AddContainer``: record the container, release earlier regular init containers."""
        self._container_map[(pod.uid, container.name)] = f"{pod.uid}/{container.name}"
        for init in pod.init_containers:
            if init.name == container.name:
                break
            if init.restartable:
                continue
            self._remove_container_by_ref(pod.uid, init.name)

    def remove_container(self, pod_uid: str, container_name: str) -> None:
        """Kubelet ``manager.RemoveContainer``: only containers in the container map are known."""
        if (pod_uid, container_name) in self._container_map:
            self._remove_container_by_ref(pod_uid, container_name)

    # -- steps -----------------------------------------------------------------------------------

    def apply(self, step: dict[str, Any]) -> Outcome:
        op = step.get("op")
        try:
            if op == "admit":
                return self._admit(step.get("pod"))
            if op == "remove":
                uid = step.get("pod_uid")
                if not isinstance(uid, str):
                    raise InputError("pod_uid", "must be a string")
                return self._remove(uid)
        except KubeletPanic as panic:
            return Outcome({"panic": panic.value})
        if op == "restart":
            from allocator.restart import apply_restart

            return Outcome(apply_restart(self, step))
        raise InputError("op", f"unknown op {op!r}: expected admit, remove or restart")

    def _admit(self, pod_doc: Any) -> Outcome:
        if not isinstance(pod_doc, dict):
            raise InputError("pod", "must be an object")
        pod = parse_pod(pod_doc, "pod")
        self._metrics.admission_requests += 1
        self._admitting = pod
        try:
            if self.scope is None:
                evaluations, error = self._admit_policy_none(pod)
            elif self.scope == "pod":
                evaluations, error = self._admit_pod_scope(pod)
            else:
                evaluations, error = self._admit_container_scope(pod)
        finally:
            self._admitting = None
        self._metrics.admission_duration_count += 1

        admitted = error is None
        if error is None:
            reason = message = ""
        elif error == TOPOLOGY_AFFINITY_ERROR:
            reason, message = TOPOLOGY_AFFINITY_ERROR, TOPOLOGY_AFFINITY_MESSAGE
        else:
            reason, message = UNEXPECTED_ADMISSION_ERROR, _unexpected_message(error)

        result: dict[str, Any] = {"admitted": admitted, "reason": reason, "message": message}
        last = evaluations[-1] if evaluations else None
        if self.scope is None:
            result["hints"] = None
            result["merged_hint"] = None
        elif self.scope == "pod":
            result["merge_admits"] = last.merge_admits if last else True
            result["hints"] = last.hints if last else None
            result["merged_hint"] = last.merged_hint if last else None
        else:
            result["hints"] = last.hints if last else None
            result["merged_hint"] = last.merged_hint if last else None
            result["container_hints"] = [
                {
                    "container": e.container,
                    "hints": e.hints,
                    "merged_hint": e.merged_hint,
                    "merge_admits": e.merge_admits,
                }
                for e in evaluations
            ]
        result["containers"] = self.pod_blocks(pod.uid)
        # Outcome views are cached renderings shared between steps: consumers treat them as read-only.
        state_after_admit = self.memory_state.state_json()
        if admitted:
            previous = self._active.get(pod.uid)
            self._active[pod.uid] = pod
            if previous is not None:
                self._maybe_stale = True
            for container in pod.all_containers:
                self.add_container(pod, container)
            result["containers_after_start"] = self.pod_blocks(pod.uid)
            result["state_after_admit"] = state_after_admit
            result["state_after"] = self.memory_state.state_json()
        else:
            if pod.uid in self.memory_state.assignments:
                self._maybe_stale = True
            result["state_after_admit"] = state_after_admit
            result["state_after"] = state_after_admit
        result["numa_groups_after"] = self.memory_state.numa_groups_json()
        result["checkpoint"] = self.checkpoint()
        explain = partial(
            build_explanation,
            pod=pod,
            tm_policy=self.tm_policy_name,
            # The configured scope (policy none ignores it, but the page shows what was configured).
            scope=self.scope or self.kubelet.topology_manager_scope,
            memory_policy=self.policy.name,
            evaluations=evaluations,
            admitted=admitted,
            reason=reason,
            message=message,
            error=None if error in (None, TOPOLOGY_AFFINITY_ERROR) else error,
            state_after=result["state_after"],
            groups_after=result["numa_groups_after"],
            blocks=result["containers"],
        )
        return Outcome(result, explain=explain)

    def _allocate_evaluation(
        self, pod: Pod, container: Container, hint: TopologyHint, evaluation: Evaluation
    ) -> str | None:
        error = self.allocate(pod, container, hint)
        blocks = self.memory_state.get_memory_blocks(pod.uid, container.name)
        evaluation.allocations.append(
            {
                "container": container.name,
                "ok": error is None,
                "blocks": blocks_to_json(blocks) if blocks else [],
                "error": error,
            }
        )
        return error

    def _admit_policy_none(self, pod: Pod) -> tuple[list[Evaluation], str | None]:
        """Kubelet ``scope.admitPolicyNone``: ``Allocate`` with the zero hint, no metrics of its own."""
        evaluations: list[Evaluation] = []
        for container in pod.all_containers:
            evaluation = Evaluation(container.name, None, None, None)
            evaluations.append(evaluation)
            error = self._allocate_evaluation(pod, container, TopologyHint(None, False), evaluation)
            if error is not None:
                return evaluations, error
        return evaluations, None

    def _admit_container_scope(self, pod: Pod) -> tuple[list[Evaluation], str | None]:
        """Kubelet ``containerScope.Admit``: merge and allocate container by container."""
        aligned = self.tm_policy_name == POLICY_SINGLE_NUMA_NODE
        evaluations: list[Evaluation] = []
        for container in pod.all_containers:
            hints = self.get_topology_hints(pod, container)
            best, admit = self.topology.policy.merge([hints])
            evaluation = Evaluation(container.name, _hints_json(hints), best.to_json(), admit)
            evaluations.append(evaluation)
            if not admit:
                if aligned:
                    self._metrics.aligned_failure("container")
                self._metrics.admission_errors += 1
                return evaluations, TOPOLOGY_AFFINITY_ERROR
            error = self._allocate_evaluation(pod, container, best, evaluation)
            if error is not None:
                self._metrics.admission_errors += 1
                return evaluations, error
            if aligned:
                self._metrics.aligned("container")
        return evaluations, None

    def _admit_pod_scope(self, pod: Pod) -> tuple[list[Evaluation], str | None]:
        """Kubelet ``podScope.Admit``: one merge for the pod, then the same hint for every container."""
        aligned = self.tm_policy_name == POLICY_SINGLE_NUMA_NODE
        hints = self.get_pod_topology_hints(pod)
        best, admit = self.topology.policy.merge([hints])
        evaluation = Evaluation(None, _hints_json(hints), best.to_json(), admit)
        if not admit:
            if aligned:
                self._metrics.aligned_failure("pod")
            self._metrics.admission_errors += 1
            return [evaluation], TOPOLOGY_AFFINITY_ERROR
        for container in pod.all_containers:
            error = self._allocate_evaluation(pod, container, best, evaluation)
            if error is not None:
                self._metrics.admission_errors += 1
                return [evaluation], error
        if aligned:
            self._metrics.aligned("pod")
        return [evaluation], None

    def _remove(self, pod_uid: str) -> Outcome:
        pod = self._active.pop(pod_uid, None)
        if pod is not None:
            for container in pod.all_containers:
                self.remove_container(pod_uid, container.name)
            if pod_uid in self.memory_state.assignments:
                self._maybe_stale = True
        return Outcome(
            {
                "removed": pod is not None,
                "state_after": self.memory_state.state_json(),
                "numa_groups_after": self.memory_state.numa_groups_json(),
                "checkpoint": self.checkpoint(),
            }
        )

    # -- snapshots -------------------------------------------------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        """JSON-able full engine state; :meth:`from_snapshot` rebuilds an identical manager."""
        reusable = getattr(self.policy, "reusable", {})
        return {
            "version": 1,
            "machine": self.machine.model_dump(mode="json"),
            "kubelet": self.kubelet.model_dump(mode="json"),
            "state": self.memory_state.checkpoint_json(self.policy.name),
            # Insertion order matters (stale sweeps release in it); JSON stores may reorder object keys.
            "assignments": [
                [uid, name, [[list(b.numa_affinity), b.type, b.size] for b in blocks]]
                for uid, containers in self.memory_state.assignments.items()
                for name, blocks in containers.items()
            ],
            "state_version": self.memory_state.version,
            "active_pods": [pod.raw for pod in self._active.values()],
            "container_map": [[uid, name] for uid, name in self._container_map],
            "reusable": {
                uid: [[mask, dict(sorted(by_type.items()))] for mask, by_type in by_mask.items()]
                for uid, by_mask in reusable.items()
            },
            "metrics": self._metrics.to_json(),
            "maybe_stale": self._maybe_stale,
            "initial_state": self._initial_state,
        }

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> MemoryManager:
        from allocator.scenario import KubeletSpec, MachineSpec

        machine = MachineSpec.model_validate(snapshot["machine"])
        kubelet = KubeletSpec.model_validate(snapshot["kubelet"])
        manager = cls(machine, kubelet)
        state = MemoryState.from_checkpoint_json(snapshot["state"])
        if "assignments" in snapshot:
            state.assignments = {}
            for uid, name, blocks in snapshot["assignments"]:
                state.assignments.setdefault(uid, {})[name] = [
                    Block(list(affinity), kind, int(size)) for affinity, kind, size in blocks
                ]
        if not state.machine_state:
            state.machine_state = manager.memory_state.machine_state
        state.version = int(snapshot.get("state_version", 0))
        manager.memory_state = state
        if isinstance(manager.policy, StaticPolicy):
            manager.policy.start(state)
            manager.policy.reusable = {
                uid: {int(mask): dict(by_type) for mask, by_type in pairs}
                for uid, pairs in snapshot.get("reusable", {}).items()
            }
        for index, pod_doc in enumerate(snapshot.get("active_pods", [])):
            pod = parse_pod(pod_doc, f"active_pods[{index}]")
            manager._active[pod.uid] = pod
        manager._container_map = {
            (uid, name): f"{uid}/{name}" for uid, name in snapshot.get("container_map", [])
        }
        manager._metrics = Metrics.from_json(snapshot["metrics"])
        if isinstance(manager.policy, StaticPolicy):
            manager.policy.metrics = manager._metrics
        manager._maybe_stale = bool(snapshot.get("maybe_stale", False))
        manager._initial_state = snapshot.get("initial_state", manager._initial_state)
        return manager
