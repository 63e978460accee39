"""The ``reservedMemory`` linter: the kubelet's start-up rule, explained and corrected.

With the Static memory manager the kubelet refuses to start unless, for every memory type, the sum
of ``reservedMemory`` equals what node allocatable reserves: kube-reserved + system-reserved + the
hard eviction threshold ``memory.available`` (100Mi unless ``evictionHard`` says otherwise; hugepages
are never reserved there). That is ``memorymanager.validateReservedMemory`` against
``containerManagerImpl.GetNodeAllocatableReservation``. The linter runs the real start-up path
(``allocator.config``), reports the kubelet's exact error, and explains every broken rule with a
finding that carries one corrected ``reservedMemory`` block fixing them all.

``python -m allocator lint FILE [--json]``: exit 0 when the kubelet starts, 1 when it refuses,
2 when the document is malformed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from allocator.config import (
    HUGEPAGES_PREFIX,
    MEMORY,
    POLICY_STATIC,
    GoQuantity,
    StartConfig,
    canonical,
    effective_eviction_hard,
    hard_eviction_reservation,
    kubelet_start,
    machine_capacity,
    node_allocatable_reservation,
    parse_resource_list,
    parse_threshold_config,
    start_config_from_document,
    validate_reserved_memory_configuration,
)
from allocator.errors import ConfigError, InputError
from allocator.gotext import go_quote

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_INPUT = 2


def _is_memory_type(name: str) -> bool:
    return name == MEMORY or name.startswith(HUGEPAGES_PREFIX)


def _type_order(name: str) -> tuple[int, str]:
    return (0 if name == MEMORY else 1, name)


def _fmt(amount: int) -> str:
    return canonical(Fraction(amount), "BinarySI")


@dataclass(frozen=True, slots=True)
class Expectation:
    """What node allocatable reserves for one memory type, and where it comes from."""

    resource: str
    kube_reserved: int
    system_reserved: int
    eviction: int
    given: bool = False  # taken from an explicit node_allocatable_reservation

    @property
    def total(self) -> int:
        return self.kube_reserved + self.system_reserved + self.eviction

    def explain(self) -> str:
        if self.given:
            return "as node_allocatable_reservation states it"
        if self.resource != MEMORY:
            return "hugepages are never part of kube-reserved, system-reserved or eviction"
        return (
            f"kube-reserved {_fmt(self.kube_reserved)} + system-reserved {_fmt(self.system_reserved)} "
            f"+ hard eviction memory.available {_fmt(self.eviction)}"
        )


def expectations(cfg: StartConfig) -> dict[str, Expectation] | None:
    """Per memory type, what the kubelet expects ``reservedMemory`` to add up to.

    ``None`` when the reserved lists or the eviction thresholds do not even parse (the kubelet stops
    before it gets to compare). An explicit ``node_allocatable_reservation`` is taken as given.
    """
    capacity = machine_capacity(cfg.nodes)
    if cfg.node_allocatable_override is not None:
        return {
            name: Expectation(name, 0, int(q.value), 0, given=True)
            for name, q in cfg.node_allocatable_override.items()
            if _is_memory_type(name)
        }
    try:
        kube = parse_resource_list(cfg.kube_reserved, "kube-reserved")
        system = parse_resource_list(cfg.system_reserved, "system-reserved")
        thresholds = parse_threshold_config(effective_eviction_hard(cfg))
    except (ConfigError, ValueError):
        return None
    eviction = hard_eviction_reservation(thresholds, capacity)
    nar = node_allocatable_reservation(capacity, system, kube, eviction)
    out: dict[str, Expectation] = {}
    for name in nar:
        if _is_memory_type(name):
            out[name] = Expectation(
                name,
                int(kube[name].value) if name in kube else 0,
                int(system[name].value) if name in system else 0,
                int(eviction[name].value) if name in eviction else 0,
            )
    return out


def corrected_reserved_memory(cfg: StartConfig, expected: Mapping[str, Expectation]) -> list[dict[str, Any]]:
    """One ``reservedMemory`` block that satisfies every rule, changing as little as possible.

    Entries for missing NUMA nodes, unsupported types, zero values and duplicates are dropped; then,
    per memory type, a shortfall is added to the node that already reserves the most of it (the
    lowest NUMA id if none does) and an excess is taken from the largest reservations first.
    """
    known = sorted(n.id for n in cfg.nodes)
    per_node: dict[int, dict[str, int]] = {}
    for numa, limits in cfg.reserved_memory:
        if numa not in known:
            continue
        for name, q in limits.items():
            if not _is_memory_type(name) or q.value <= 0 or q.value.denominator != 1:
                continue
            per_node.setdefault(numa, {}).setdefault(name, int(q.value))
    types = {name for limits in per_node.values() for name in limits} | set(expected)
    for name in types:
        want = expected[name].total if name in expected else 0
        holders = sorted(
            (numa for numa in per_node if name in per_node[numa]),
            key=lambda numa: (-per_node[numa][name], numa),
        )
        have = sum(per_node[numa][name] for numa in holders)
        if want == have:
            continue
        if want == 0:
            for numa in holders:
                del per_node[numa][name]
            continue
        if want > have:
            target = holders[0] if holders else known[0]
            per_node.setdefault(target, {})[name] = per_node.get(target, {}).get(name, 0) + want - have
            continue
        excess = have - want
        for numa in holders:
            take = min(excess, per_node[numa][name])
            per_node[numa][name] -= take
            excess -= take
            if per_node[numa][name] == 0:
                del per_node[numa][name]
            if excess == 0:
                break
    block = []
    for numa in sorted(per_node):
        limits = per_node[numa]
        if limits:
            block.append(
                {"numa_node": numa, "limits": {n: _fmt(limits[n]) for n in sorted(limits, key=_type_order)}}
            )
    return block


def reserved_memory_yaml(block: Sequence[Mapping[str, Any]]) -> str:
    """The block as the ``KubeletConfiguration`` YAML snippet to paste."""
    if not block:
        return "reservedMemory: []\n"
    lines = ["reservedMemory:"]
    for entry in block:
        lines.append(f"- numaNode: {entry['numa_node']}")
        lines.append("  limits:")
        lines.extend(f"    {name}: {amount}" for name, amount in entry["limits"].items())
    return "\n".join(lines) + "\n"


def _totals(cfg: StartConfig) -> dict[str, int]:
    totals: dict[str, int] = {}
    for _numa, limits in cfg.reserved_memory:
        for name, q in limits.items():
            totals[name] = totals.get(name, 0) + int(q.value)
    return totals


def _mismatch_text(name: str, reserved: GoQuantity, allocatable: GoQuantity) -> str:
    return (
        f"the total amount {go_quote(str(reserved))} of type {go_quote(name)} is not equal to the value "
        f"{go_quote(str(allocatable))} determined by Node Allocatable feature"
    )


def lint_config(cfg: StartConfig) -> dict[str, Any]:
    """``{"outcome", "error", "findings"}`` for a start-up configuration."""
    outcome = kubelet_start(cfg)
    failure = outcome.failure
    findings: list[dict[str, Any]] = []
    static = cfg.memory_manager_policy == POLICY_STATIC
    expected = expectations(cfg) if static else None
    block: list[dict[str, Any]] | None = None
    if expected is not None:
        block = corrected_reserved_memory(cfg, expected)
    yaml_block = None if block is None else reserved_memory_yaml(block)

    def finding(code: str, message: str, **extra: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"code": code, "severity": "error", "message": message}
        item.update(extra)
        item["corrected_reserved_memory"] = block
        item["corrected_yaml"] = yaml_block
        return item

    if failure is not None:
        findings.append(
            finding(
                "kubelet-refuses-to-start",
                f"The kubelet would not start: it fails in {failure.stage}.",
                stage=failure.stage,
                error=failure.error,
                kubelet_error=failure.kubelet_error,
                field=failure.field,
            )
        )
    if static:
        known = {n.id for n in cfg.nodes}
        for error in validate_reserved_memory_configuration(cfg.reserved_memory):
            findings.append(finding("invalid-entry", error, kubelet_error=error))
        for numa, _limits in cfg.reserved_memory:
            if numa not in known:
                text = (
                    f"the reserved memory configuration references a NUMA node {numa} that does not exist "
                    "on this machine"
                )
                findings.append(
                    finding(
                        "unknown-numa-node",
                        f"reservedMemory names NUMA node {numa}, which this machine does not have "
                        f"(it has {sorted(known)}).",
                        numa_node=numa,
                        kubelet_error=text,
                    )
                )
    if expected is not None:
        totals = _totals(cfg)
        reserved_q: dict[str, GoQuantity] = {}
        for _numa, limits in cfg.reserved_memory:
            for name, q in limits.items():
                reserved_q[name] = q.add(reserved_q[name]) if name in reserved_q else q
        names = [n for n in totals if _is_memory_type(n)] + [n for n in expected if n not in totals]
        for name in sorted(set(names), key=_type_order):
            want = expected[name].total if name in expected else 0
            have = totals.get(name, 0)
            if want == have:
                continue
            exp = expected.get(name, Expectation(name, 0, 0, 0))
            allocatable = (
                cfg.node_allocatable_override[name]
                if cfg.node_allocatable_override is not None and name in cfg.node_allocatable_override
                else GoQuantity.from_bytes(want)
            )
            if (
                outcome.node_allocatable_reservation is not None
                and name in outcome.node_allocatable_reservation
            ):
                allocatable = outcome.node_allocatable_reservation[name]
            text = _mismatch_text(
                name,
                GoQuantity.zero().add(reserved_q.get(name, GoQuantity.zero())),
                GoQuantity.zero().add(allocatable),
            )
            findings.append(
                finding(
                    "sum-mismatch",
                    f"reservedMemory reserves {_fmt(have)} of {name} in total, but the kubelet expects "
                    f"{_fmt(want)} ({exp.explain()}).",
                    resource=name,
                    expected=want,
                    actual=have,
                    kubelet_error=text,
                )
            )
        if MEMORY not in expected:
            findings.append(
                finding(
                    "nothing-reserved",
                    "The Static policy needs some memory reserved for the system, but kube-reserved, "
                    "system-reserved and the hard eviction threshold reserve none: set systemReserved "
                    "(or kubeReserved) memory and reserve the same amount in reservedMemory.",
                    resource=MEMORY,
                    kubelet_error="[memorymanager] you should specify the system reserved memory",
                )
            )
    return {
        "outcome": "ok" if failure is None else "error",
        "error": None if failure is None else failure.error,
        "findings": findings,
    }


def lint_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Lint a document with ``machine`` and ``kubelet``; raises ``InputError`` if it is malformed."""
    if not isinstance(doc, Mapping):
        raise InputError("", "expected a JSON object with machine and kubelet")
    return lint_config(start_config_from_document(doc))


def _human(result: Mapping[str, Any]) -> str:
    lines = []
    if result["outcome"] == "ok":
        lines.append("ok: the kubelet starts with this configuration")
    else:
        lines.append(f"error: {result['error']}")
    shown_block = None
    for item in result["findings"]:
        lines.append(f"- [{item['code']}] {item['message']}")
        if item.get("kubelet_error") and item["code"] != "kubelet-refuses-to-start":
            lines.append(f"    kubelet: {item['kubelet_error']}")
        shown_block = item.get("corrected_yaml") or shown_block
    if shown_block:
        lines.append("corrected:")
        lines.extend("  " + line for line in shown_block.rstrip("\n").split("\n"))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """``python -m allocator lint FILE [--json]``."""
    parser = argparse.ArgumentParser(prog="python -m allocator lint", description=__doc__.split("\n")[0])
    parser.add_argument("file", help="a JSON document with machine and kubelet ('-' reads stdin)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as err:
        sys.stderr.write(f"{args.file}: {err.strerror or err}\n")
        return EXIT_INPUT
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        sys.stderr.write(f"{args.file}: not JSON: {err}\n")
        return EXIT_INPUT
    try:
        result = lint_document(doc)
    except InputError as err:
        sys.stderr.write(f"{args.file}: {err.path or '<document>'}: {err.message}\n")
        return EXIT_INPUT
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(_human(result))
    return EXIT_OK if result["outcome"] == "ok" else EXIT_REFUSED


__all__ = ["corrected_reserved_memory", "expectations", "lint_config", "lint_document", "main"]
