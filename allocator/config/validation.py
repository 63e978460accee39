"""The kubelet's configuration checks before any manager exists.

Mirrors ``pkg/kubelet/apis/config/validation.ValidateKubeletConfiguration`` (topology manager policy and
scope names, ``validateReservedMemoryConfiguration``) and ``cmd/kubelet/app.parseResourceList``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from allocator.config.quantity import MEMORY, GoQuantity, is_hugepage
from allocator.config.start_config import StartConfig
from allocator.errors import ConfigError
from allocator.gotext import go_quote
from allocator.quantities import QuantityError

TOPOLOGY_POLICIES = ("none", "best-effort", "restricted", "single-numa-node")
TOPOLOGY_SCOPES = ("container", "pod")
_CONFIG_PATH_PLACEHOLDER = "<%s of the *KubeletConfiguration>"


# cmd/kubelet/app.parseResourceList: the resources kube/system reserved may name.
RESERVABLE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pid")


def validate_config(cfg: StartConfig) -> None:
    """``ValidateKubeletConfiguration``: the resource-manager checks, aggregated like the kubelet."""
    errors: list[str] = []
    if cfg.topology_manager_policy not in TOPOLOGY_POLICIES:
        choices = "[" + " ".join(go_quote(p) for p in TOPOLOGY_POLICIES) + "]"
        errors.append(
            "invalid configuration: topologyManagerPolicy (--topology-manager-policy) "
            f"{go_quote(cfg.topology_manager_policy)} must be one of: {choices}"
        )
    if cfg.topology_manager_scope not in TOPOLOGY_SCOPES:
        errors.append(
            "invalid configuration: topologyManagerScope (--topology-manager-scope) "
            f'{go_quote(cfg.topology_manager_scope)} must be one of: "container", or "pod"'
        )
    errors.extend(validate_reserved_memory_configuration(cfg.reserved_memory))
    if errors:
        message = aggregate(errors)
        raise ConfigError(
            "validate_config",
            message,
            f"failed to validate kubelet configuration, error: {message}, path: {_CONFIG_PATH_PLACEHOLDER}",
            "kubelet.reserved_memory"
            if "reserved memory" in message or "limit type" in message
            else "kubelet",
        )


def aggregate(errors: Sequence[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()``: one message, or ``[a, b]`` without duplicates."""
    unique = list(dict.fromkeys(errors))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def validate_reserved_memory_configuration(
    reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]],
) -> list[str]:
    """Kubelet ``validateReservedMemoryConfiguration``: supported type, non-zero, no duplicates.

    Within one entry the kubelet walks a Go map, so the order of several errors of one entry is
    random; here it is the document order.
    """
    errors: list[str] = []
    seen: dict[int, set[str]] = {}
    for numa, limits in reserved:
        types = seen.setdefault(numa, set())
        for name, q in limits.items():
            if not (name == MEMORY or is_hugepage(name)):
                errors.append(
                    f"invalid configuration: the limit type {go_quote(name)} for NUMA node {numa} is not "
                    "supported, only [memory hugepages-<HugePageSize>] is accepted"
                )
            if q.value == 0:
                errors.append(
                    f"invalid configuration: reserved memory may not be zero for NUMA node {numa} "
                    f"and resource {go_quote(name)}"
                )
            if name in types:
                errors.append(
                    f"invalid configuration: the reserved memory has a duplicate value for NUMA node {numa} "
                    f"and resource {go_quote(name)}"
                )
            types.add(name)
    return errors


def parse_resource_list(values: Mapping[str, str], flag: str) -> dict[str, GoQuantity]:
    """``cmd/kubelet/app.parseResourceList`` for ``--kube-reserved`` / ``--system-reserved``."""
    stage = "parse_kube_reserved" if flag == "kube-reserved" else "parse_system_reserved"
    field_name = "kubelet.kube_reserved" if flag == "kube-reserved" else "kubelet.system_reserved"
    out: dict[str, GoQuantity] = {}
    for name, text in values.items():
        if name not in RESERVABLE_RESOURCES:
            error = f"cannot reserve {go_quote(name)} resource"
        else:
            try:
                q = GoQuantity.parse(text)
            except QuantityError as err:
                error = f"failed to parse quantity {go_quote(text)} for {go_quote(name)} resource: {err}"
            else:
                if q.value < 0:
                    error = f"resource quantity for {go_quote(name)} cannot be negative: {text}"
                else:
                    out[name] = q
                    continue
        raise ConfigError(
            stage, error, f"failed to run Kubelet: --{flag} value failed to parse: {error}", field_name
        )
    return out
