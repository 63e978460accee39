"""Building the topology manager the way the kubelet's ``NewManager`` does, with its start-up errors.

Mirrors ``pkg/kubelet/cm/topologymanager/topology_manager.go`` (``NewManager``) and the scope names of
``scope.go``. Errors are ``ConfigError``s at stage ``topology_manager`` carrying the kubelet's words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from allocator.errors import ConfigError
from allocator.gotext import go_quote
from allocator.topology_manager.numa_info import DistanceRow, new_numa_info
from allocator.topology_manager.policy import Policy
from allocator.topology_manager.policy_best_effort import POLICY_BEST_EFFORT, BestEffortPolicy
from allocator.topology_manager.policy_none import POLICY_NONE, NonePolicy
from allocator.topology_manager.policy_options import PolicyOptions, new_policy_options
from allocator.topology_manager.policy_restricted import POLICY_RESTRICTED, RestrictedPolicy
from allocator.topology_manager.policy_single_numa_node import POLICY_SINGLE_NUMA_NODE, SingleNumaNodePolicy

CONTAINER_SCOPE = "container"
POD_SCOPE = "pod"
SCOPES = (CONTAINER_SCOPE, POD_SCOPE)
POLICIES = (POLICY_NONE, POLICY_BEST_EFFORT, POLICY_RESTRICTED, POLICY_SINGLE_NUMA_NODE)

STAGE = "topology_manager"
_FIELD_POLICY = "kubelet.topology_manager_policy"
_FIELD_SCOPE = "kubelet.topology_manager_scope"
_FIELD_OPTIONS = "kubelet.topology_manager_policy_options"
_FIELD_MACHINE = "machine.numa_nodes"
_FIELD_DISTANCES = "machine.distances"


def _fail(error: str, field: str) -> ConfigError:
    # The kubelet's run() wraps NewManager's error this way before exiting.
    return ConfigError(STAGE, error, f"failed to run Kubelet: {error}", field)


@dataclass(frozen=True, slots=True)
class TopologyManagerConfig:
    """What ``NewManager`` settles: the policy, the scope (``None`` for policy ``none``), the options."""

    policy: Policy
    scope: str | None
    options: PolicyOptions


def _build(
    name: str,
    numa_ids: Sequence[int],
    distances: Mapping[int, DistanceRow | None] | None,
    options: Mapping[str, str],
    feature_gates: Mapping[str, bool] | None,
) -> tuple[Policy, PolicyOptions]:
    # Policy none short-circuits before anything is checked: options, node count, scope.
    if name == POLICY_NONE:
        return NonePolicy(), PolicyOptions()
    try:
        opts = new_policy_options(options, feature_gates)
    except ValueError as err:
        raise _fail(str(err), _FIELD_OPTIONS) from None
    try:
        numa_info = new_numa_info(numa_ids, distances, opts.prefer_closest_numa)
    except ValueError as err:
        raise _fail(f"cannot discover NUMA topology: {err}", _FIELD_DISTANCES) from None
    # The limit counts NUMA nodes, not ids.
    if len(numa_info.nodes) > opts.max_allowable_numa_nodes:
        raise _fail(
            f"unsupported on machines with more than {opts.max_allowable_numa_nodes} NUMA Nodes",
            _FIELD_MACHINE,
        )
    policy: Policy
    if name == POLICY_BEST_EFFORT:
        policy = BestEffortPolicy(numa_info, opts)
    elif name == POLICY_RESTRICTED:
        policy = RestrictedPolicy(numa_info, opts)
    elif name == POLICY_SINGLE_NUMA_NODE:
        policy = SingleNumaNodePolicy(numa_info, opts)
    else:
        raise _fail(f"unknown policy: {go_quote(name)}", _FIELD_POLICY)
    return policy, opts


def new_policy(
    name: str,
    numa_ids: Sequence[int],
    distances: Mapping[int, DistanceRow | None] | None = None,
    options: Mapping[str, str] | None = None,
    feature_gates: Mapping[str, bool] | None = None,
) -> Policy:
    """The policy ``NewManager`` would build for ``name`` on a machine with ``numa_ids`` (topology order).

    ``distances[id1][id2]`` as cadvisor reports them (rows indexed by NUMA id). Raises ``ConfigError``
    with the kubelet's exact text.
    """
    policy, _ = _build(name, numa_ids, distances, options or {}, feature_gates)
    return policy


def new_scope(name: str) -> str:
    """Kubelet scope selection in ``NewManager``: ``container`` or ``pod``, else ``unknown scope``."""
    if name not in SCOPES:
        raise _fail(f"unknown scope: {go_quote(name)}", _FIELD_SCOPE)
    return name


def new_manager(
    policy_name: str,
    scope_name: str,
    numa_ids: Sequence[int],
    distances: Mapping[int, DistanceRow | None] | None = None,
    options: Mapping[str, str] | None = None,
    feature_gates: Mapping[str, bool] | None = None,
) -> TopologyManagerConfig:
    """Kubelet ``topologymanager.NewManager``, checks in its order: options, NUMA distances, node
    count, policy name, scope name (policy ``none`` checks nothing)."""
    policy, opts = _build(policy_name, numa_ids, distances, options or {}, feature_gates)
    if policy_name == POLICY_NONE:
        return TopologyManagerConfig(policy, None, opts)
    return TopologyManagerConfig(policy, new_scope(scope_name), opts)
