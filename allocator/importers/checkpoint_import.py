"""A ``memory_manager_state`` checkpoint file -> a scenario document.

Its pods are the file's entries and its last step restarts the kubelet from exactly that file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from allocator.checkpoint import (
    CheckpointError,
    compute_checksum,
    marshal_checkpoint,
    policy_mismatch,
    restore_error,
    unmarshal_checkpoint,
    verify_checksum,
)
from allocator.errors import InputError
from allocator.quantities import format_quantity
from allocator.scenario import KubeletSpec, MachineSpec, parse_kubelet, parse_machine


@dataclass(slots=True)
class CheckpointImport:
    """What importing a checkpoint file found, and the scenario that reproduces it.

    ``scenario`` is a scenario document: the machine and kubelet (given or inferred from the file), one
    ``admit`` step per pod of ``entries`` (a Guaranteed pod requesting exactly its blocks), then a
    ``restart`` step whose ``checkpoint_file`` is the file as the kubelet would rewrite it, so that the
    replayed state is exactly the file's (placement included). ``problems`` lists, in plain words, what does
    not fit; ``error`` is the kubelet's own start-up error for this file, machine and configuration (the
    text a restart step reports), or None when the kubelet would start.
    """

    scenario: dict[str, Any]
    policy_name: str
    checksum: int
    checksum_status: str  # "valid" | "valid-v1-type-name" | "unchecked-zero" | "corrupt"
    expected_checksum: int
    pods: list[dict[str, Any]]
    inferred: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    def report(self) -> dict[str, Any]:
        """A JSON-able summary for the API and the page."""
        return {
            "policy_name": self.policy_name,
            "checksum": self.checksum,
            "checksum_status": self.checksum_status,
            "expected_checksum": self.expected_checksum,
            "pods": len(self.pods),
            "inferred": list(self.inferred),
            "problems": list(self.problems),
            "kubelet_would_start": self.error is None,
            "error": self.error,
        }


def _checksum_status(cp: Any) -> str:
    if cp.checksum == 0:
        return "unchecked-zero"
    try:
        verify_checksum(cp)
    except CheckpointError:
        return "corrupt"
    return "valid" if cp.checksum == compute_checksum(cp) else "valid-v1-type-name"


def _machine_from_checkpoint(cp: Any) -> dict[str, Any]:
    nodes = []
    for numa_id, node in sorted((cp.machine_state or {}).items()):
        if node is None or node.memory_map is None or node.memory_map.get("memory") is None:
            raise InputError(
                f"machineState.{numa_id}.memoryMap.memory",
                "the node has no memory table: give the machine alongside the file",
            )
        spec: dict[str, Any] = {"id": numa_id, "memory": node.memory_map["memory"].total}
        for name, table in sorted(node.memory_map.items()):
            if name != "memory" and table is not None:
                spec[name] = table.total
        nodes.append(spec)
    if not nodes:
        raise InputError("machineState", "the file has no machine state: give the machine alongside the file")
    return {"numa_nodes": nodes, "distances": None}


def _reserved_from_checkpoint(cp: Any) -> list[dict[str, Any]]:
    reserved = []
    for numa_id, node in sorted((cp.machine_state or {}).items()):
        limits = {
            name: table.system_reserved
            for name, table in sorted(((node.memory_map if node else None) or {}).items())
            if table is not None and table.system_reserved
        }
        if limits:
            reserved.append({"numa_node": numa_id, "limits": limits})
    return reserved


def _pod_from_entries(uid: str, containers: Mapping[str, Any] | None) -> dict[str, Any]:
    """A Guaranteed pod whose containers request exactly their blocks (init containers are not in the
    file once the pod runs, so every container is an app container)."""
    specs = []
    for name, blocks in (containers or {}).items():
        sizes: dict[str, int] = {}
        for block in blocks or []:
            sizes[block.type] = sizes.get(block.type, 0) + block.size
        # A block emptied by init-container reuse would make a zero request, which QoS ignores.
        requests = {"cpu": "1", **{res: format_quantity(size) for res, size in sorted(sizes.items()) if size}}
        resources = {"requests": dict(requests), "limits": dict(requests)}
        specs.append({"name": name, "image": "registry.k8s.io/pause:3.10", "resources": resources})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": _pod_name(uid), "namespace": "default", "uid": uid},
        "spec": {"containers": specs},
    }


def _pod_name(uid: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", uid.lower()).strip("-")
    return name[:63] or "pod"


def import_checkpoint(
    text: str | bytes,
    machine: Mapping[str, Any] | None = None,
    kubelet: Mapping[str, Any] | None = None,
    name: str = "imported-checkpoint",
) -> CheckpointImport:
    """A ``memory_manager_state`` file (plus, optionally, the scenario ``machine``/``kubelet`` it came
    from) -> :class:`CheckpointImport`.

    The file must decode (otherwise ``InputError`` with the Go decoder's text). What the file cannot tell
    -- NUMA distances, the Topology Manager settings, which containers were init containers -- is
    reported in ``inferred`` when the machine or kubelet configuration is not given.
    """
    try:
        cp = unmarshal_checkpoint(text)
    except CheckpointError as err:
        raise InputError("checkpoint", err.message) from None
    inferred: list[str] = []
    problems: list[str] = []
    errors: list[str] = []
    status = _checksum_status(cp)
    if status == "corrupt":
        problems.append("the checksum does not match the content (the file was edited or damaged)")
        errors.append(restore_error("checkpoint is corrupted"))
    if machine is None:
        machine_doc = _machine_from_checkpoint(cp)
        inferred.append(
            "machine: memory and hugepage totals from the file; NUMA distances are not in the checkpoint"
        )
    else:
        machine_doc = dict(machine)
    if kubelet is None:
        kubelet_doc: dict[str, Any] = {
            "memory_manager_policy": cp.policy_name or "Static",
            "reserved_memory": _reserved_from_checkpoint(cp),
        }
        inferred.append(
            "kubelet: policy and reserved memory from the file; the Topology Manager settings are not in "
            "the checkpoint (defaults used)"
        )
    else:
        kubelet_doc = dict(kubelet)
    parsed_machine = parse_machine(machine_doc, "machine")
    parsed_kubelet = parse_kubelet(kubelet_doc, "kubelet")
    if cp.policy_name != parsed_kubelet.memory_manager_policy:
        problems.append(
            f"the file was written by the {cp.policy_name!r} policy, the kubelet is configured with "
            f"{parsed_kubelet.memory_manager_policy!r}"
        )
        errors.append(restore_error(policy_mismatch(parsed_kubelet.memory_manager_policy, cp.policy_name)))
    problems += _machine_problems(cp, parsed_machine)
    start_error = _start_error(cp, parsed_machine, parsed_kubelet)
    if start_error is not None:
        errors.append(start_error)
    pods = [_pod_from_entries(uid, containers) for uid, containers in (cp.entries or {}).items()]
    steps: list[dict[str, Any]] = [{"op": "admit", "pod": pod} for pod in pods]
    steps.append(
        {
            "op": "restart",
            "note": "restart from the imported memory_manager_state",
            "changes": {"checkpoint_file": marshal_checkpoint(cp) if status != "corrupt" else _as_text(text)},
        }
    )
    scenario = {
        "name": name,
        "machine": _machine_doc(parsed_machine) if machine is None else dict(machine),
        "kubelet": kubelet_doc,
        "steps": steps,
    }
    return CheckpointImport(
        scenario=scenario,
        policy_name=cp.policy_name,
        checksum=cp.checksum,
        checksum_status=status,
        expected_checksum=compute_checksum(cp),
        pods=pods,
        inferred=inferred,
        problems=problems,
        error=errors[0] if errors else None,
    )


def _machine_problems(cp: Any, machine: MachineSpec) -> list[str]:
    """Plain-words findings: nodes, NUMA ids and memory types the file uses that the machine lacks."""
    problems = []
    resources = {node.id: {"memory", *node.hugepages} for node in machine.numa_nodes}
    for numa_id in sorted(cp.machine_state or {}):
        if numa_id not in resources:
            problems.append(f"the file describes NUMA node {numa_id}, which the machine does not have")
    for uid, containers in (cp.entries or {}).items():
        for ctr, blocks in (containers or {}).items():
            for block in blocks or []:
                for numa_id in block.numa_affinity or []:
                    if numa_id not in resources:
                        problems.append(
                            f"pod {uid} container {ctr}: a block on NUMA node {numa_id}, not on the machine"
                        )
                    elif block.type not in resources[numa_id]:
                        problems.append(
                            f"pod {uid} container {ctr}: a {block.type} block on NUMA node {numa_id}, "
                            f"which reports no {block.type}"
                        )
    return problems


def _start_error(cp: Any, machine: MachineSpec, kubelet: KubeletSpec) -> str | None:
    """What the kubelet says when it starts with this file, machine and configuration (None: it starts)."""
    from allocator.errors import ConfigError
    from allocator.manager import MemoryManager
    from allocator.restart import NIL_POINTER_PANIC, StartError, StartPanic, has_nil_table, validate_state

    try:
        manager = MemoryManager(machine, kubelet)
    except ConfigError as err:
        return err.error
    if cp.policy_name != manager.policy.name:
        return None  # the policy-name error is reported on its own
    if has_nil_table(cp):
        return f"panic: {NIL_POINTER_PANIC}"
    if manager.policy.name != "Static":
        return None
    try:
        validate_state(cp, manager.policy.default_machine_state())
    except StartError as err:
        return err.message
    except StartPanic as err:
        return f"panic: {err.message}"
    return None


def _as_text(text: str | bytes) -> str:
    return text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text


def _machine_doc(machine: MachineSpec) -> dict[str, Any]:
    """A :class:`MachineSpec` back in the scenario's ``machine`` shape (bytes, hugepage keys inline)."""
    nodes = []
    for node in machine.numa_nodes:
        nodes.append({"id": node.id, "memory": node.memory, **node.hugepages})
    distances = None
    if machine.distances is not None:
        distances = {str(k): {str(t): d for t, d in row.items()} for k, row in machine.distances.items()}
    return {"numa_nodes": nodes, "distances": distances}
