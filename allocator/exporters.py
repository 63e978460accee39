"""Taking a scenario back to a real node: the files and texts a node engineer pastes elsewhere.

* :func:`kubelet_configuration_yaml` -- the resource-manager part of a ``KubeletConfiguration``
  (``kubelet.config.k8s.io/v1beta1``), which :func:`allocator.importers.parse_kubelet_configuration`
  reads back to the same settings.
* :func:`reserved_memory_flag` -- the same reserved memory as a ``--reserved-memory`` flag value.
* :func:`pods_yaml` -- pods as one multi-document YAML stream (``kubectl apply -f``).
* :func:`bug_report_markdown` -- a markdown block for an upstream issue: configuration, topology,
  pods and outcome.

The ``memory_manager_state`` file itself is :func:`allocator.checkpoint.encode_checkpoint`
(``MemoryManager.checkpoint_file()``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from allocator.quantities import format_quantity
from allocator.scenario import KubeletSpec, MachineSpec, parse_kubelet, parse_machine

__all__ = [
    "bug_report_markdown",
    "kubelet_configuration",
    "kubelet_configuration_yaml",
    "pods_yaml",
    "reserved_memory_flag",
]

# Resources whose KubeletConfiguration values are plain counts, not byte quantities.
_COUNT_RESOURCES = ("cpu", "pid")


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with list items indented under their key, as kubectl and the docs write it."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def _dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _as_kubelet(kubelet: KubeletSpec | Mapping[str, Any]) -> KubeletSpec:
    return kubelet if isinstance(kubelet, KubeletSpec) else parse_kubelet(dict(kubelet), "kubelet")


def _as_machine(machine: MachineSpec | Mapping[str, Any]) -> MachineSpec:
    return machine if isinstance(machine, MachineSpec) else parse_machine(dict(machine), "machine")


def _reserved_quantity(resource: str, amount: int) -> str:
    return str(amount) if resource in _COUNT_RESOURCES else format_quantity(amount)


def kubelet_configuration(kubelet: KubeletSpec | Mapping[str, Any]) -> dict[str, Any]:
    """The ``KubeletConfiguration`` document (as a dict) for these settings.

    Every memory/topology field is written, defaults included, so the snippet means the same thing
    whatever the node's file said before. Empty maps are left out.
    """
    spec = _as_kubelet(kubelet)
    doc: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "memoryManagerPolicy": spec.memory_manager_policy,
    }
    if spec.reserved_memory:
        doc["reservedMemory"] = [
            {"numaNode": entry.numa_node, "limits": {k: format_quantity(v) for k, v in entry.limits.items()}}
            for entry in spec.reserved_memory
        ]
    doc["topologyManagerPolicy"] = spec.topology_manager_policy
    doc["topologyManagerScope"] = spec.topology_manager_scope
    if spec.topology_manager_policy_options:
        doc["topologyManagerPolicyOptions"] = dict(spec.topology_manager_policy_options)
    if spec.kube_reserved:
        doc["kubeReserved"] = {k: _reserved_quantity(k, v) for k, v in spec.kube_reserved.items()}
    if spec.system_reserved:
        doc["systemReserved"] = {k: _reserved_quantity(k, v) for k, v in spec.system_reserved.items()}
    if spec.eviction_hard:
        doc["evictionHard"] = dict(spec.eviction_hard)
    return doc


def kubelet_configuration_yaml(kubelet: KubeletSpec | Mapping[str, Any]) -> str:
    """The ``KubeletConfiguration`` snippet as YAML."""
    return _dump(kubelet_configuration(kubelet))


def reserved_memory_flag(kubelet: KubeletSpec | Mapping[str, Any]) -> str:
    """``--reserved-memory`` for the configured reserved memory (``0:memory=1Gi;1:memory=1Gi``).

    Entries keep their order, limits are sorted by name, like ``ReservedMemoryVar.String`` sorts them.
    """
    spec = _as_kubelet(kubelet)
    return ";".join(
        f"{entry.numa_node}:" + ",".join(f"{k}={format_quantity(v)}" for k, v in sorted(entry.limits.items()))
        for entry in spec.reserved_memory
    )


def pods_yaml(pods: Iterable[Mapping[str, Any]]) -> str:
    """Pods as a multi-document YAML stream, each starting with ``---``."""
    return "".join("---\n" + _dump(dict(pod)) for pod in pods)


# --------------------------------------------------------------------------------------------------------
# Bug report


def _topology_table(machine: MachineSpec) -> list[str]:
    sizes = sorted({name for node in machine.numa_nodes for name in node.hugepages})
    header = ["NUMA node", "memory", *sizes]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for node in sorted(machine.numa_nodes, key=lambda n: n.id):
        cells = [str(node.id), format_quantity(node.memory)]
        cells += [format_quantity(node.hugepages[s]) if s in node.hugepages else "-" for s in sizes]
        rows.append("| " + " | ".join(cells) + " |")
    if machine.distances:
        ids = sorted(machine.distances)
        targets = sorted({t for row in machine.distances.values() for t in row})
        rows += ["", "Distances:", "", "| from \\ to | " + " | ".join(map(str, targets)) + " |"]
        rows.append("|" + "---|" * (len(targets) + 1))
        for source in ids:
            row = machine.distances[source]
            rows.append(f"| {source} | " + " | ".join(str(row.get(t, "-")) for t in targets) + " |")
    return rows


def _outcome_line(index: int, outcome: Mapping[str, Any], pod_name: str | None) -> str:
    subject = f"`{pod_name}`" if pod_name else "the step"
    if "panic" in outcome:
        return f"{index}. {subject}: the kubelet panics: `{outcome['panic']}`"
    if "admitted" in outcome:
        if outcome["admitted"]:
            return f"{index}. {subject}: admitted"
        return f"{index}. {subject}: rejected, {outcome.get('reason', '')}: `{outcome.get('message', '')}`"
    if "started" in outcome:
        if outcome["started"]:
            return f"{index}. kubelet restart: started"
        return (
            f"{index}. kubelet restart: refused to start ({outcome.get('stage')}): `{outcome.get('error')}`"
        )
    if "removed" in outcome:
        return f"{index}. {subject}: removed"
    return f"{index}. {subject}: " + json.dumps(dict(outcome), sort_keys=True)


def bug_report_markdown(
    machine: MachineSpec | Mapping[str, Any],
    kubelet: KubeletSpec | Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    outcomes: Sequence[Mapping[str, Any]] = (),
    *,
    title: str | None = None,
    steps: Sequence[Mapping[str, Any]] | None = None,
    state: Mapping[str, Any] | None = None,
    kubernetes_version: str = "v1.36.2",
    link: str | None = None,
) -> str:
    """A markdown report ready to paste into an issue.

    ``outcomes`` are replay outcomes (``admit``/``remove``/``restart`` keys); ``steps``, when given, are
    the matching steps and name the pod of each outcome. ``state`` is the final machine state.
    """
    machine_spec = _as_machine(machine)
    lines: list[str] = [f"### {title or 'Memory Manager behaviour report'}", ""]
    lines += [
        f"Reproduced with the Memory Manager Playground (kubelet {kubernetes_version} semantics: "
        "Memory Manager and Topology Manager).",
        "",
    ]
    if link:
        lines += [f"Scenario: {link}", ""]
    lines += [
        "#### Configuration",
        "",
        "```yaml",
        kubelet_configuration_yaml(kubelet).rstrip("\n"),
        "```",
        "",
    ]
    lines += ["#### Topology", "", *_topology_table(machine_spec), ""]
    lines += ["#### Pods", ""]
    if pods:
        lines += ["```yaml", pods_yaml(pods).rstrip("\n"), "```", ""]
    else:
        lines += ["(none)", ""]
    if outcomes:
        lines += ["#### Outcome", ""]
        for index, outcome in enumerate(outcomes, start=1):
            step = steps[index - 1] if steps is not None and index - 1 < len(steps) else {}
            pod = step.get("pod") if isinstance(step, Mapping) else None
            name = (pod or {}).get("metadata", {}).get("name") if isinstance(pod, Mapping) else None
            if name is None and isinstance(step, Mapping) and step.get("op") == "remove":
                name = step.get("pod_uid")
            lines.append(_outcome_line(index, outcome, name))
        lines.append("")
    if state:
        lines += ["#### Machine state after the last step", ""]
        lines += ["| NUMA node | resource | total | reserved | free |", "|---|---|---|---|---|"]
        for numa_id, tables in state.items():
            for resource, table in tables.items():
                lines.append(
                    f"| {numa_id} | {resource} | {format_quantity(table['total'])} | "
                    f"{format_quantity(table['reserved'])} | {format_quantity(table['free'])} |"
                )
        lines.append("")
    return "\n".join(lines)
