"""The explanation record of an admission (docs/CONTRACTS.md section 2).

It keeps what the kubelet computed -- each resource's hints, the merged hint, the policy verdict, the
blocks -- and adds a ``summary`` in plain words, so the web page can explain a decision without
re-deriving it. The wording follows the real causes the vectors show: a memory shortage usually
passes the Topology Manager (no hint at all means "no preference") and fails in the Memory Manager;
NUMA groups make single-node hints disappear; ``single-numa-node`` refuses any placement wider than
one node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from allocator.pods import QOS_GUARANTEED, Pod
from allocator.quantities import as_int64, format_quantity

__all__ = ["Evaluation", "NodeUsage", "build_explanation", "node_usage"]

_MM_REASONS = {
    "failed to get the default NUMA affinity": (
        "no NUMA node, and no allowed group of NUMA nodes, has enough free memory for it"
    ),
    "failed to find the default preferred hint": (
        "the only placements with enough free memory span more NUMA nodes than necessary, "
        "and the Topology Manager asked for a preferred (narrowest) one"
    ),
    "failed to find NUMA nodes to extend the current topology hint": (
        "the NUMA node(s) the Topology Manager chose lack free memory, and no allowed wider "
        "group of NUMA nodes containing them has enough"
    ),
    "failed to find the extended preferred hint": (
        "the chosen NUMA node(s) lack free memory and only a wider, non-preferred group could hold it"
    ),
    "preferred hint violates NUMA node allocation": (
        "the chosen group of NUMA nodes would mix with nodes that already hold single-NUMA "
        "allocations or belong to another NUMA group, which the Memory Manager forbids"
    ),
    "failed to represent quantity as int64": (
        "a memory or hugepages request is not a whole number the kubelet can read as int64 "
        '(for example "1.5Gi"; write "1536Mi" instead)'
    ),
}


@dataclass(slots=True)
class Evaluation:
    """One merge: a container's (container scope) or the pod's (pod scope, ``container=None``)."""

    container: str | None
    hints: dict[str, Any] | None
    merged_hint: dict[str, Any] | None
    merge_admits: bool | None
    allocations: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        ok = all(a["ok"] for a in self.allocations)
        errors = [a["error"] for a in self.allocations if a["error"]]
        blocks = [dict(b, container=a["container"]) for a in self.allocations for b in a["blocks"]]
        allocation = None
        if self.allocations:
            allocation = {"ok": ok, "blocks": blocks, "error": errors[0] if errors else None}
        return {
            "container": self.container,
            "hints": self.hints,
            "merged_hint": self.merged_hint,
            "merge_admits": self.merge_admits,
            "allocation": allocation,
        }


def _requests(pod: Pod) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for container in pod.all_containers:
        wanted: dict[str, Any] = {}
        requests = pod.requested(container)
        for name in sorted(requests):
            if name == "memory" or name.startswith("hugepages-"):
                value = as_int64(requests[name])
                wanted[name] = value if value is not None else requests[name].text
        out[container.name] = wanted
    return out


def _nodes(ids: list[int] | None) -> str:
    if not ids:
        return "any NUMA node"
    if len(ids) == 1:
        return f"NUMA node {ids[0]}"
    return "NUMA nodes " + ", ".join(str(i) for i in ids)


@dataclass(frozen=True, slots=True)
class NodeUsage:
    """What the summary needs of one NUMA node at the end of the admission."""

    numa_id: int
    free: dict[str, int]
    cells: tuple[int, ...]
    assignments: int


def node_usage(state: dict[str, Any], groups: dict[str, Any]) -> list[NodeUsage]:
    """Free memory per resource, NUMA group and assignment count of every node, from the rendered
    ``state()`` and ``numa_groups()`` views of the step."""
    return [
        NodeUsage(
            int(key),
            {name: table["free"] for name, table in tables.items()},
            tuple(groups[key]["cells"]),
            groups[key]["number_of_assignments"],
        )
        for key, tables in sorted(state.items(), key=lambda item: int(item[0]))
    ]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _usage_sentence(nodes: list[NodeUsage], resource: str = "memory") -> str:
    """Where the free memory is, and which nodes the NUMA rules tie up."""
    parts = [f"node {n.numa_id}: {format_quantity(n.free.get(resource, 0))}" for n in nodes]
    text = f" Free {resource} per NUMA node: {', '.join(parts)}."
    single = [n.numa_id for n in nodes if n.assignments > 0 and len(n.cells) == 1]
    groups = sorted({n.cells for n in nodes if n.assignments > 0 and len(n.cells) > 1})
    if single:
        text += (
            f" {_cap(_nodes(single))} already hold{'s' if len(single) == 1 else ''} single-NUMA "
            "allocations, so no multi-node placement may include them."
        )
    for group in groups:
        text += (
            f" {_cap(_nodes(list(group)))} form a NUMA group: only allocations on exactly that group "
            "may use them together, and none of them alone."
        )
    return text


def _pod_total(requests: dict[str, dict[str, Any]]) -> dict[str, int]:
    """A rough pod total for the summary: the sum over containers, per resource."""
    total: dict[str, int] = {}
    for wanted in requests.values():
        for resource, size in wanted.items():
            if isinstance(size, int):
                total[resource] = total.get(resource, 0) + size
    return total


def _summary(
    pod: Pod,
    qos: str,
    tm_policy: str,
    scope: str | None,
    evaluations: list[Evaluation],
    admitted: bool,
    error: str | None,
    nodes: list[NodeUsage],
    blocks: dict[str, list[dict[str, Any]]],
    requests: dict[str, dict[str, Any]],
) -> str:
    name = pod.name or pod.uid
    if admitted:
        if qos != QOS_GUARANTEED:
            return (
                f"Pod {name} was admitted without NUMA pinning: it is {qos}, and the Memory Manager "
                "only pins memory for Guaranteed pods."
            )
        if pod.has_pod_level_resources:
            return (
                f"Pod {name} was admitted without NUMA pinning: it sets pod-level resources, which the "
                "Static Memory Manager policy skips."
            )
        if not blocks:
            return f"Pod {name} was admitted; no memory was pinned."
        placements = sorted({tuple(b["numa_affinity"]) for bs in blocks.values() for b in bs})
        where = "; ".join(_nodes(list(p)) for p in placements)
        cross = any(len(p) > 1 for p in placements)
        text = f"Pod {name} was admitted and its memory was pinned to {where}."
        if cross:
            text += (
                " Those nodes now form a NUMA group: only allocations on exactly that group may use them "
                "together, and none of them alone."
            )
        merged = [e.merged_hint for e in evaluations if e.merged_hint is not None]
        if tm_policy == "best-effort" and any(not m["preferred"] for m in merged):
            text += (
                " The Topology Manager's placement was not a preferred one; best-effort admits it anyway "
                "(restricted or single-numa-node would have rejected the pod)."
            )
        return text
    last = evaluations[-1] if evaluations else None
    failing = last.container if last else None
    if last and last.allocations and last.allocations[-1]["error"]:
        failing = last.allocations[-1]["container"]
    who = f"container {failing}" if failing else f"pod {name}"
    if error is None:
        # The Topology Manager's merge did not admit.
        merged = (last.merged_hint or {}) if last else {}
        hints = (last.hints if last else None) or {}
        ids = merged.get("numa_affinity")
        any_preferred = any(h["preferred"] for lst in hints.values() for h in lst)
        single = all(
            len(h["numa_affinity"] or []) == 1 for lst in hints.values() for h in lst if h["preferred"]
        )
        if tm_policy == "single-numa-node" and hints and not (any_preferred and single):
            why = (
                "no single NUMA node can hold it (or the nodes that could are taken or grouped), and the "
                "single-numa-node policy only accepts placements on exactly one NUMA node"
            )
        elif hints and not any_preferred:
            why = (
                "every placement that still has room is wider than the narrowest one that could ever hold "
                "the request (nodes are busy or bound to a NUMA group), so no hint is preferred and the "
                f"{tm_policy} policy refuses a non-preferred placement"
            )
        else:
            why = (
                f"the best merged placement ({_nodes(ids)}) is not preferred, which the {tm_policy} "
                "policy refuses"
            )
        text = f"Pod {name} was rejected by the Topology Manager (TopologyAffinityError) for {who}: {why}."
        if any(n.assignments for n in nodes):
            text += _usage_sentence(nodes)
        return text
    detail = error.removeprefix("[memorymanager] ")
    why = next((text for key, text in _MM_REASONS.items() if detail.startswith(key)), detail)
    text = f"Pod {name} was rejected by the Memory Manager (UnexpectedAdmissionError) for {who}: {why}."
    wanted = requests.get(failing, {}) if failing else _pod_total(requests)
    short = [
        (resource, size, sum(n.free.get(resource, 0) for n in nodes))
        for resource, size in sorted(wanted.items())
        if isinstance(size, int) and size > sum(n.free.get(resource, 0) for n in nodes)
    ]
    if "int64" in detail:
        pass
    elif short:
        resource, size, total = short[0]
        text += f" It asks for {format_quantity(size)} of {resource}, and the whole machine has " + (
            f"only {format_quantity(total)} of it free." if total else "none of it free."
        )
        hinted = set((last.hints or {}) if last else {})
        if last and last.container is None and hinted and resource not in hinted:
            text += (
                f" The pod-level hints did not consider {resource}: the kubelet drops a resource that "
                "only init containers request from the pod's request."
            )
    elif wanted:
        total = sum(n.free.get("memory", 0) for n in nodes)
        size = wanted.get("memory", 0)
        if isinstance(size, int) and size:
            text += (
                f" The machine has {format_quantity(total)} of free memory in total, enough for the "
                f"{format_quantity(size)} requested, but not where the NUMA rules allow it."
            )
        text += _usage_sentence(nodes)
    if tm_policy in ("restricted", "single-numa-node", "best-effort") and last and last.hints == {}:
        text += (
            " No NUMA placement had room, which the Topology Manager reads as 'no preference', so the "
            "rejection comes from the Memory Manager rather than the Topology Manager."
        )
    return text


def build_explanation(
    *,
    pod: Pod,
    tm_policy: str,
    scope: str | None,
    memory_policy: str,
    evaluations: list[Evaluation],
    admitted: bool,
    reason: str,
    message: str,
    error: str | None,
    state_after: dict[str, Any],
    groups_after: dict[str, Any],
    blocks: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """The explanation record of one ``admit`` (``error`` is the Memory Manager's text, if any)."""
    qos = pod.qos_class
    requests = _requests(pod)
    nodes = node_usage(state_after, groups_after)
    if admitted:
        stage = None
    elif error is None:
        stage = "topology_manager"
    else:
        stage = "memory_manager"
    return {
        "pod": pod.name,
        "pod_uid": pod.uid,
        "qos_class": qos,
        "policy": tm_policy,
        "scope": scope,
        "memory_policy": memory_policy,
        "requests": requests,
        "evaluations": [e.to_json() for e in evaluations],
        "admitted": admitted,
        "reason": reason,
        "message": message,
        "stage": stage,
        "summary": _summary(
            pod, qos, tm_policy, scope, evaluations, admitted, error, nodes, blocks, requests
        ),
    }
