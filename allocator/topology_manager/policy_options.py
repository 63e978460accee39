"""Topology Manager policy options as of Kubernetes v1.36.

Mirrors ``pkg/kubelet/cm/topologymanager/policy_options.go``. In v1.36 both options are GA
(``prefer-closest-numa-nodes`` since v1.32, ``max-allowable-numa-nodes`` since v1.35), so the
alpha/beta feature gates no longer guard any known option; the checks stay so the texts are exact
should an option be demoted or a new one be added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from allocator.gotext import atoi, go_quote, parse_bool

PREFER_CLOSEST_NUMA_NODES = "prefer-closest-numa-nodes"
MAX_ALLOWABLE_NUMA_NODES = "max-allowable-numa-nodes"

DEFAULT_MAX_ALLOWABLE_NUMA_NODES = 8
"""Kubelet ``defaultMaxAllowableNUMANodes``: the topology manager refuses bigger machines by default."""

ALPHA_OPTIONS: frozenset[str] = frozenset()
BETA_OPTIONS: frozenset[str] = frozenset()
STABLE_OPTIONS: frozenset[str] = frozenset({PREFER_CLOSEST_NUMA_NODES, MAX_ALLOWABLE_NUMA_NODES})

ALPHA_GATE = "TopologyManagerPolicyAlphaOptions"
BETA_GATE = "TopologyManagerPolicyBetaOptions"

# v1.36 defaults of the gates consulted here (alpha off, beta on).
DEFAULT_GATES: dict[str, bool] = {ALPHA_GATE: False, BETA_GATE: True}


@dataclass(frozen=True, slots=True)
class PolicyOptions:
    """Kubelet ``PolicyOptions``."""

    prefer_closest_numa: bool = False
    max_allowable_numa_nodes: int = DEFAULT_MAX_ALLOWABLE_NUMA_NODES


def _gate(feature_gates: Mapping[str, bool] | None, name: str) -> bool:
    if feature_gates is not None and name in feature_gates:
        return bool(feature_gates[name])
    return DEFAULT_GATES[name]


def check_policy_option_available(option: str, feature_gates: Mapping[str, bool] | None = None) -> None:
    """Kubelet ``CheckPolicyOptionAvailable``; raises ``ValueError`` with the kubelet's text."""
    if option not in ALPHA_OPTIONS and option not in BETA_OPTIONS and option not in STABLE_OPTIONS:
        raise ValueError(f"unknown Topology Manager Policy option: {go_quote(option)}")
    if option in ALPHA_OPTIONS and not _gate(feature_gates, ALPHA_GATE):
        raise ValueError(
            f"Topology Manager Policy Alpha-level Options not enabled, but option {go_quote(option)} provided"
        )
    if option in BETA_OPTIONS and not _gate(feature_gates, BETA_GATE):
        raise ValueError(
            f"Topology Manager Policy Beta-level Options not enabled, but option {go_quote(option)} provided"
        )


def new_policy_options(
    options: Mapping[str, str], feature_gates: Mapping[str, bool] | None = None
) -> PolicyOptions:
    """Kubelet ``NewPolicyOptions``: parse and check; raises ``ValueError`` with the kubelet's text.

    The kubelet walks a Go map, so with several bad options which one is reported is random; here the
    first in document order is.
    """
    prefer_closest = False
    max_nodes = DEFAULT_MAX_ALLOWABLE_NUMA_NODES
    for name, value in options.items():
        check_policy_option_available(name, feature_gates)
        if name == PREFER_CLOSEST_NUMA_NODES:
            try:
                prefer_closest = parse_bool(value)
            except ValueError as err:
                raise ValueError(f"bad value for option {go_quote(name)}: {err}") from None
        elif name == MAX_ALLOWABLE_NUMA_NODES:
            try:
                n = atoi(value)
            except ValueError as err:
                raise ValueError(
                    f"unable to convert policy option to integer {go_quote(name)}: {err}"
                ) from None
            if n < DEFAULT_MAX_ALLOWABLE_NUMA_NODES:
                raise ValueError(
                    f"the minimum value of {go_quote(name)} should not be less than "
                    f"{DEFAULT_MAX_ALLOWABLE_NUMA_NODES}"
                )
            # A value above 8 only makes the kubelet log a warning.
            max_nodes = n
        else:  # pragma: no cover - unreachable, as in the kubelet: unknown options are refused above
            raise ValueError(f"unsupported topologymanager option: {go_quote(name)} ({value})")
    return PolicyOptions(prefer_closest_numa=prefer_closest, max_allowable_numa_nodes=max_nodes)


def validate_options(
    options: Mapping[str, str], feature_gates: Mapping[str, bool] | None = None
) -> PolicyOptions:
    """Alias of ``new_policy_options`` for callers that only want the check."""
    return new_policy_options(options, feature_gates)
