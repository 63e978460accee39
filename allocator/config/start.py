"""The kubelet's start-up path, stage by stage, and the engine's entry point :func:`validate`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from allocator.config.allocatable import (
    DEFAULT_EVICTION_HARD,
    effective_eviction_hard,
    hard_eviction_reservation,
    machine_capacity,
    node_allocatable_reservation,
    parse_threshold_config,
    validate_node_allocatable,
)
from allocator.config.document import start_config_from_document
from allocator.config.memory_manager import (
    initial_machine_state,
    new_memory_manager,
    reserved_totals,
    start_memory_manager,
)
from allocator.config.quantity import GoQuantity
from allocator.config.start_config import ConfigPanic, NodeInfo, StartConfig, StartOutcome
from allocator.config.validation import parse_resource_list, validate_config
from allocator.errors import ConfigError
from allocator.topology_manager import new_manager

# Feature gates that v1.36 locks to their default (GA): setting them to the opposite makes the
# kubelet panic while defaulting its configuration.
LOCKED_FEATURE_GATES: dict[str, bool] = {
    # Both went GA in v1.32 and are locked to true (the first is pinned by err-locked-feature-gate).
    "TopologyManagerPolicyOptions": True,
    "MemoryManager": True,
}


def kubelet_start(cfg: StartConfig) -> StartOutcome:
    """Take a configuration through the kubelet's start-up path; the first failure ends it."""
    passed: list[str] = []
    outcome = StartOutcome(passed, None)
    try:
        # load_config: v1beta1 defaulting. A locked gate set to its opposite panics.
        for gate, locked in LOCKED_FEATURE_GATES.items():
            if gate in cfg.feature_gates and cfg.feature_gates[gate] != locked:
                error = (
                    "failed to merge global and in-flight KubeletConfiguration while setting defaults, "
                    f"error: cannot set feature gate {gate} to {str(not locked).lower()}, "
                    f"feature is locked to {str(locked).lower()}"
                )
                raise ConfigPanic("load_config", error, f"panic: {error}", "kubelet.feature_gates")
        passed.append("load_config")
        passed.append("feature_gates")  # unknown gates are only logged
        validate_config(cfg)
        passed.append("validate_config")
        passed.append("reserved_cpus")  # CPU manager settings: outside this module
        kube = parse_resource_list(cfg.kube_reserved, "kube-reserved")
        system = parse_resource_list(cfg.system_reserved, "system-reserved")
        passed.append("parse_reserved")
        try:
            thresholds = parse_threshold_config(effective_eviction_hard(cfg))
        except ValueError as err:
            raise ConfigError(
                "eviction_thresholds", str(err), f"failed to run Kubelet: {err}", "kubelet.eviction_hard"
            ) from None
        passed.append("eviction_thresholds")
        # The container-manager stages: capacity and node allocatable are known from here on.
        capacity = machine_capacity(cfg.nodes)
        outcome.capacity = capacity
        if cfg.node_allocatable_override is not None:
            nar = dict(cfg.node_allocatable_override)
        else:
            nar = node_allocatable_reservation(
                capacity, system, kube, hard_eviction_reservation(thresholds, capacity)
            )
        outcome.node_allocatable_reservation = nar
        numa_ids = [n.id for n in cfg.nodes]
        new_manager(
            cfg.topology_manager_policy,
            cfg.topology_manager_scope,
            numa_ids,
            cfg.distances,
            cfg.topology_manager_policy_options,
            cfg.feature_gates,
        )
        passed.append("topology_manager")
        passed.append("cpu_manager")  # outside this module
        reserved = new_memory_manager(cfg.memory_manager_policy, numa_ids, nar, cfg.reserved_memory)
        outcome.system_reserved_memory = reserved
        passed.append("memory_manager")
        passed.append("cpu_manager_start")  # outside this module
        state = None if reserved is None else initial_machine_state(cfg.nodes, reserved)
        start_memory_manager(cfg, state, cfg.memory_manager_policy)
        passed.append("memory_manager_start")
        if cfg.node_allocatable_override is None:
            validate_node_allocatable(capacity, nar)
        passed.append("node_allocatable")
        outcome.machine_state = state if state is not None else {}
    except ConfigPanic as err:
        # The process dies while loading its configuration: no stage is reported as passed.
        outcome.failure = err
        outcome.stages_passed = None
    except ConfigError as err:
        outcome.failure = err
    return outcome


def check_document(doc: Mapping[str, Any]) -> StartOutcome:
    """``kubelet_start`` for a document with ``machine`` and ``kubelet``; ``InputError`` if malformed."""
    return kubelet_start(start_config_from_document(doc))


def validate(machine: Any, kubelet: Any) -> dict[int, dict[str, int]] | None:
    """Check a parsed scenario's ``MachineSpec`` + ``KubeletSpec`` as the kubelet's ``NewManager``
    calls do (topology manager, then memory manager); raise ``ConfigError`` with the kubelet's texts.

    Returns the system-reserved bytes per NUMA node and type (``None`` for the None policy). Node
    allocatable is ``kubelet.node_allocatable_reservation`` when given, else computed from
    kube/system reserved and eviction when any is set, else the per-type sum of reserved memory
    (the vectors' convention, under which the consistency check always passes).
    """
    numa_ids = [node.id for node in machine.numa_nodes]
    new_manager(
        kubelet.topology_manager_policy,
        kubelet.topology_manager_scope,
        numa_ids,
        machine.distances,
        kubelet.topology_manager_policy_options,
    )
    reserved = [
        (entry.numa_node, {name: GoQuantity.from_bytes(amount) for name, amount in entry.limits.items()})
        for entry in kubelet.reserved_memory
    ]
    nodes = [NodeInfo(n.id, n.memory, dict(n.hugepages)) for n in machine.numa_nodes]
    nar: dict[str, GoQuantity]
    if kubelet.node_allocatable_reservation is not None:
        nar = {k: GoQuantity.from_bytes(v) for k, v in kubelet.node_allocatable_reservation.items()}
    elif kubelet.kube_reserved or kubelet.system_reserved or kubelet.eviction_hard:
        capacity = machine_capacity(nodes)
        try:
            thresholds = parse_threshold_config(kubelet.eviction_hard or DEFAULT_EVICTION_HARD)
        except ValueError as err:
            raise ConfigError(
                "eviction_thresholds", str(err), f"failed to run Kubelet: {err}", "kubelet.eviction_hard"
            ) from None
        nar = node_allocatable_reservation(
            capacity,
            {k: GoQuantity.from_bytes(v) for k, v in kubelet.system_reserved.items()},
            {k: GoQuantity.from_bytes(v) for k, v in kubelet.kube_reserved.items()},
            hard_eviction_reservation(thresholds, capacity),
        )
    else:
        nar = reserved_totals(reserved)
    return new_memory_manager(kubelet.memory_manager_policy, numa_ids, nar, reserved)
