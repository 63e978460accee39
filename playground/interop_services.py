"""Kubelet interop for the web site: import a real node, export what the kubelet writes, what-if restarts,
the reservedMemory linter and the kubelet's own metrics for a scenario.

The decisions are the allocator's (``allocator.importers``, ``allocator.exporters``, ``allocator.lint``,
``MemoryManager``); storage is ``playground.services``. This module only turns the texts a node engineer
pastes into scenario documents, refuses what the kubelet would refuse before anything is stored, and
renders the exports. Every refusal is a ``services.ServiceError`` (4xx), never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from allocator import ConfigError, InputError, MemoryManager, parse_scenario
from allocator.checkpoint import CheckpointError, reencode_checkpoint, unmarshal_checkpoint
from allocator.exporters import (
    bug_report_markdown,
    kubelet_configuration_yaml,
    pods_yaml,
    reserved_memory_flag,
)
from allocator.importers import (
    CheckpointImport,
    import_checkpoint,
    kubelet_doc_from_configuration,
    machine_doc_from_cadvisor,
    machine_doc_from_numactl,
    parse_reserved_memory_flag,
)
from allocator.lint import lint_document
from playground import services
from playground.models import Pod, Scenario
from playground.services import Invalid

# Where the machine and the kubelet configuration of an import may come from (body keys), in the order
# they are looked at; at most one machine source may be given.
MACHINE_SOURCES = ("machine", "numactl", "cadvisor")
KUBELET_SOURCES = ("kubelet", "kubelet_configuration", "reserved_memory")
# What the kubelet's checkpoint may hold as a resource name (v1helper.IsHugePageResourceName or memory).
MEMORY_RESOURCE = re.compile(r"^(memory|hugepages-[0-9A-Za-z.]+)$")
LINE_PATH = re.compile(r"^line \d+$")

SOURCE_NAMES = {
    "checkpoint": "The memory_manager_state file",
    "numactl": "The numactl --hardware output",
    "cadvisor": "The cadvisor machine info",
    "kubelet_configuration": "The KubeletConfiguration",
    "reserved_memory": "The --reserved-memory flag",
    "machine": "The machine",
    "kubelet": "The kubelet configuration",
}


class Refused(Invalid):
    """An import the kubelet would not accept: 422 with the import report and the kubelet's own words."""


# --- input errors -----------------------------------------------------------------------------------


def source_path(source: str, path: str) -> str:
    """The path inside a pasted text: ``numactl line 7``, ``kubelet_configuration.reservedMemory[0]``."""
    if not path or path == source:
        return source
    if LINE_PATH.match(path):
        return f"{source} {path}"
    # The flag parser names its entries ``--reserved-memory[1]``: in the body that is ``reserved_memory[1]``.
    path = path.removeprefix("--reserved-memory")
    if path.startswith("["):
        return f"{source}{path}"
    return f"{source}.{path}"


def invalid_source(source: str, exc: InputError) -> Invalid:
    """An allocator InputError in one pasted text, as a 422 naming the text and its field or line."""
    path = source_path(source, exc.path)
    what = SOURCE_NAMES.get(source, source)
    return Invalid(f"{what} is invalid: {exc.message} ({path}).", [{"path": path, "message": exc.message}])


def text_field(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(
            f"{key} must be a string (the text as pasted).", [{"path": key, "message": "expected a string"}]
        )
    return value


def object_field(body: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(f"{key} must be an object.", [{"path": key, "message": "expected an object"}])
    return value


# --- the machine and the kubelet from pasted texts ------------------------------------------------


def machine_from(body: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The scenario ``machine`` from ``machine`` (scenario format), ``numactl`` or ``cadvisor``; or None."""
    given = [key for key in MACHINE_SOURCES if body.get(key) not in (None, "")]
    if len(given) > 1:
        raise Invalid(
            f"Give the machine once: {' and '.join(given)} were sent together.",
            [{"path": key, "message": "only one machine source"} for key in given[1:]],
        )
    if not given:
        return None, None
    source = given[0]
    try:
        if source == "machine":
            return object_field(body, "machine"), source
        if source == "numactl":
            return machine_doc_from_numactl(text_field(body, "numactl") or ""), source
        cadvisor = body["cadvisor"]
        if not isinstance(cadvisor, str | dict):
            raise Invalid(
                "cadvisor must be the machine info JSON, as text or as an object.",
                [{"path": "cadvisor", "message": "expected a string or an object"}],
            )
        return machine_doc_from_cadvisor(cadvisor), source
    except InputError as exc:
        raise invalid_source(source, exc) from None


def kubelet_from(body: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """The scenario ``kubelet`` from ``kubelet`` (scenario format) or a ``KubeletConfiguration`` YAML, with
    ``reserved_memory`` (the ``--reserved-memory`` flag) overriding its reservedMemory, as a command-line
    flag overrides the config file. None when nothing was given."""
    given = [key for key in KUBELET_SOURCES if body.get(key) not in (None, "")]
    if "kubelet" in given and "kubelet_configuration" in given:
        raise Invalid(
            "Give the kubelet configuration once: kubelet and kubelet_configuration were both sent.",
            [{"path": "kubelet_configuration", "message": "only one kubelet configuration source"}],
        )
    if not given:
        return None, []
    kubelet: dict[str, Any] = {}
    if "kubelet" in given:
        kubelet = dict(object_field(body, "kubelet") or {})
    elif "kubelet_configuration" in given:
        try:
            kubelet = kubelet_doc_from_configuration(text_field(body, "kubelet_configuration") or "")
        except InputError as exc:
            raise invalid_source("kubelet_configuration", exc) from None
    if "reserved_memory" in given:
        flag = text_field(body, "reserved_memory") or ""
        try:
            entries = parse_reserved_memory_flag(flag)
        except InputError as exc:
            raise invalid_source("reserved_memory", exc) from None
        kubelet["reserved_memory"] = [
            {"numa_node": entry.numa_node, "limits": dict(entry.limits)} for entry in entries
        ]
    return kubelet, given


def node_document(body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``{"name", "machine", "kubelet"}`` from the pasted texts (no checkpoint) and where each came from;
    raises Invalid."""
    machine, machine_source = machine_from(body)
    kubelet, kubelet_sources = kubelet_from(body)
    if machine is None:
        raise Invalid(
            "The machine is missing: paste numactl --hardware output or cadvisor machine info.",
            [{"path": "numactl", "message": "required (or cadvisor, or machine)"}],
        )
    name = body.get("name") or "imported node"
    if not isinstance(name, str):
        raise Invalid("name must be a string.", [{"path": "name", "message": "expected a string"}])
    document = {"name": name, "machine": machine, "kubelet": kubelet or {}}
    return document, {"kind": "node", "machine_source": machine_source, "kubelet_sources": kubelet_sources}


def check_kubelet_starts(document: Mapping[str, Any], kubelet_sources: list[str]) -> None:
    """A real KubeletConfiguration must pass the kubelet's start-up checks (the reservedMemory rule among
    them); raises Refused with the kubelet's exact error and the linter's findings (corrected block).

    A scenario-format ``kubelet`` keeps the playground's convention (node allocatable = the reservedMemory
    sum), so only a pasted configuration is held to the real rule.
    """
    if "kubelet_configuration" not in kubelet_sources or document.get("machine") is None:
        return
    try:
        result = lint_document({"machine": document["machine"], "kubelet": document["kubelet"]})
    except InputError as exc:
        raise services.invalid_input(exc) from None
    if result["outcome"] == "ok":
        return
    raise Refused(
        f"The kubelet would refuse to start with this configuration: {result['error']}",
        [{"path": "kubelet_configuration", "message": str(result["error"])}],
        lint=result,
    )


# --- checkpoint import ----------------------------------------------------------------------------


def check_checkpoint_resources(text: str) -> None:
    """Every resource name in the file is ``memory`` or ``hugepages-<size>``; raises Invalid naming the field.

    The kubelet itself would report these only as a drifted machine state; naming the field is clearer.
    """
    cp = unmarshal_checkpoint(text)
    for numa_id, node in sorted((cp.machine_state or {}).items()):
        for resource in (node.memory_map or {}) if node is not None else {}:
            if not MEMORY_RESOURCE.match(resource):
                path = f"checkpoint.machineState.{numa_id}.memoryMap.{resource}"
                raise unknown_resource(resource, path)
    for uid, containers in (cp.entries or {}).items():
        for container, blocks in (containers or {}).items():
            for index, block in enumerate(blocks or []):
                if not MEMORY_RESOURCE.match(block.type):
                    path = f"checkpoint.entries.{uid}.{container}[{index}].type"
                    raise unknown_resource(block.type, path)


def unknown_resource(resource: str, path: str) -> Invalid:
    message = f"unknown resource {resource!r}: the memory manager knows memory and hugepages-<size>"
    return Invalid(
        f"The memory_manager_state file is invalid: {message} ({path}).", [{"path": path, "message": message}]
    )


def inferred_machine_path(exc: InputError, numa_ids: list[int]) -> str:
    """``machine.numa_nodes[2].id`` of a machine read from the file -> ``checkpoint.machineState.<id>``.

    The importer lists the file's nodes in id order, so the index is the position among the sorted ids.
    """
    match = re.match(r"^machine\.numa_nodes\[(\d+)\]", exc.path)
    if match is None or int(match.group(1)) >= len(numa_ids):
        return "checkpoint.machineState"
    return f"checkpoint.machineState.{numa_ids[int(match.group(1))]}"


def read_checkpoint(
    text: str, machine: dict[str, Any] | None, kubelet: dict[str, Any] | None, name: str
) -> CheckpointImport:
    """``allocator.importers.import_checkpoint`` with its InputErrors as 422s naming the body field."""
    try:
        check_checkpoint_resources(text)
        return import_checkpoint(text, machine=machine, kubelet=kubelet, name=name)
    except CheckpointError as exc:
        raise invalid_source("checkpoint", InputError("checkpoint", exc.message)) from None
    except InputError as exc:
        if exc.path.startswith("machine") and machine is None:
            # The machine was read from the file: name the file's node, not a document the user never saw.
            path = inferred_machine_path(exc, sorted(unmarshal_checkpoint(text).machine_state or {}))
            raise Invalid(
                f"The memory_manager_state file is invalid: {exc.message} ({path}).",
                [{"path": path, "message": exc.message}],
            ) from None
        if exc.path.startswith(("machine", "kubelet")):
            raise services.invalid_input(exc) from None
        raise invalid_source("checkpoint", exc) from None


def dry_run(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Replay a scenario document in memory (nothing stored) and return its outcomes; raises Invalid."""
    try:
        parsed = parse_scenario(document)
        mm = MemoryManager.from_scenario(parsed)
        outcomes = [mm.apply(step).result for step in parsed.steps]
    except InputError as exc:
        raise services.invalid_input(exc) from None
    except ConfigError as exc:
        raise services.config_refused(exc) from None
    outcomes.append({"checkpoint_file": mm.checkpoint_file()})
    return outcomes


@dataclass(slots=True)
class Imported:
    """A stored import: the new scenario (with its edit token) and what the import found."""

    created: services.Created
    report: dict[str, Any]


def checkpoint_report(body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scenario document for a checkpoint import and its report; raises Invalid / Refused.

    Refused (422) whenever the kubelet would not start from this file with this machine and configuration:
    a wrong checksum, another policy, a block on a NUMA node the machine lacks, a drifted machine.
    """
    text = text_field(body, "checkpoint") or ""
    machine, machine_source = machine_from(body)
    kubelet, kubelet_sources = kubelet_from(body)
    name = (
        body.get("name") if isinstance(body.get("name"), str) and body.get("name") else "imported checkpoint"
    )
    imported = read_checkpoint(text, machine, kubelet, name)
    check_kubelet_starts(imported.scenario, kubelet_sources)
    report = imported.report()
    report["machine_source"] = machine_source or "checkpoint"
    report["kubelet_sources"] = kubelet_sources or ["checkpoint"]
    if imported.error is not None or imported.problems:
        message = imported.error or imported.problems[0]
        found = "; ".join(problem for problem in imported.problems if problem != message)
        raise Refused(
            f"The kubelet would not start from this memory_manager_state file: {message}"
            + (f" (found: {found})" if found else ""),
            [{"path": "checkpoint", "message": problem} for problem in imported.problems]
            or [{"path": "checkpoint", "message": message}],
            report=report,
        )
    outcomes = dry_run(imported.scenario)
    restart = outcomes[-2]
    if "panic" in restart or not restart.get("started"):
        error = restart.get("panic") or restart.get("error") or "the kubelet did not start"
        report["kubelet_would_start"] = False
        report["error"] = error
        raise Refused(
            f"The kubelet would not start from this memory_manager_state file: {error}",
            [{"path": "checkpoint", "message": str(error)}],
            report=report,
        )
    # The export is the kubelet's own encoding of the file's content: the same bytes for every file the
    # kubelet wrote; a re-indented file (still valid: the checksum covers the content) comes back compact.
    report["reexport_identical"] = outcomes[-1]["checkpoint_file"] == text
    try:
        # Whether the file is byte for byte what the kubelet itself writes for this state.
        report["as_the_kubelet_writes_it"] = reencode_checkpoint(text) == text
    except CheckpointError:
        report["as_the_kubelet_writes_it"] = False
    return imported.scenario, report


def import_plan(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scenario document an import creates and its report (nothing stored): a ``checkpoint`` (with the
    machine and kubelet given alongside or inferred from the file), or a machine (``numactl`` /
    ``cadvisor`` / ``machine``) with its kubelet configuration (``kubelet_configuration`` YAML /
    ``kubelet``, ``reserved_memory`` flag).

    Raises Invalid (a text that does not parse, naming its field or line) or Refused (the kubelet would
    not start).
    """
    if not isinstance(body, dict):
        raise Invalid(
            "The import body must be a JSON object.", [{"path": "body", "message": "expected an object"}]
        )
    refuse_bare_documents(body)
    if body.get("checkpoint") not in (None, ""):
        document, report = checkpoint_report(body)
        return document, {**report, "kind": "checkpoint"}
    document, report = node_document(body)
    check_kubelet_starts(document, report["kubelet_sources"])
    return document, report


def import_node(body: Any) -> Imported:
    """Import a node into a new scenario (see :func:`import_plan`); raises Invalid, Refused, TooLarge."""
    document, report = import_plan(body)
    return Imported(created=services.create_scenario(document), report=report)


def refuse_bare_documents(body: Mapping[str, Any]) -> None:
    """A KubeletConfiguration (or any Kubernetes object) sent as the body itself, not as a field of it."""
    if "kind" in body or "apiVersion" in body:
        raise Invalid(
            f"The body is a {body.get('kind') or 'Kubernetes'} document; send a JSON object whose "
            "kubelet_configuration field holds its text, with the machine (numactl or cadvisor) beside it.",
            [{"path": "kind" if "kind" in body else "apiVersion", "message": "expected the import fields"}],
        )


def preview(body: Any) -> dict[str, Any]:
    """What an import would create, stored nowhere: ``{"name", "machine", "kubelet", "pods", "report"}``."""
    document, report = import_plan(body)
    if report["kind"] == "node":
        services.new_engine(document)  # the kubelet must start with it, as create_scenario will check
    pods = [step["pod"] for step in document.get("steps", []) if step["op"] == "admit"]
    return {
        "name": document["name"],
        "machine": document["machine"],
        "kubelet": document["kubelet"],
        "pods": pods,
        "report": report,
    }


# --- lint ------------------------------------------------------------------------------------------


def lint(body: Any) -> dict[str, Any]:
    """The reservedMemory linter on ``machine`` + ``kubelet`` (or the pasted texts of an import).

    ``{"outcome": "ok" | "error", "error", "findings": [...]}`` as ``python -m allocator lint --json``.
    """
    if not isinstance(body, dict):
        raise Invalid("The body must be a JSON object.", [{"path": "body", "message": "expected an object"}])
    document, _ = node_document(body)
    try:
        return lint_document({"machine": document["machine"], "kubelet": document["kubelet"]})
    except InputError as exc:
        raise services.invalid_input(exc) from None
    except ConfigError as exc:
        raise services.config_refused(exc) from None


# --- exports --------------------------------------------------------------------------------------


def engine(scenario: Scenario, version: int | None) -> MemoryManager:
    """A private copy of the engine at ``version`` (default: latest); raises NotFound past the last one."""
    if version is None:
        version = scenario.version
    if version < 0 or version > scenario.version:
        raise services.NotFound(
            f"Scenario {scenario.public_id!r} has versions 0 to {scenario.version}, not {version}.",
            [{"path": "version", "message": f"must be between 0 and {scenario.version}"}],
        )
    return services.engine_at(scenario, version)


def checkpoint_file(public_id: str, version: int | None = None) -> str:
    """The ``memory_manager_state`` file the kubelet writes for this state, checksum included."""
    return engine(services.get_scenario(public_id), version).checkpoint_file()


def kubelet_config(public_id: str, flag: bool = False) -> str:
    """The ``KubeletConfiguration`` snippet (or the ``--reserved-memory`` flag value) of the scenario."""
    scenario = services.get_scenario(public_id)
    if flag:
        return reserved_memory_flag(scenario.kubelet) + "\n"
    return kubelet_configuration_yaml(scenario.kubelet)


def current_pods(scenario: Scenario) -> list[Pod]:
    return list(scenario.pods.order_by("admitted_version"))


def pods_document(public_id: str) -> str:
    """The scenario's pods (Running and Failed, in admission order) as multi-document YAML."""
    return pods_yaml([pod.spec for pod in current_pods(services.get_scenario(public_id))])


def bug_report(public_id: str, base_url: str = "") -> str:
    """A markdown block for an upstream issue: configuration, topology, pods, every step's outcome."""
    scenario = services.get_scenario(public_id)
    events = list(scenario.events.filter(version__gte=1).order_by("version"))
    return bug_report_markdown(
        scenario.machine,
        scenario.kubelet,
        [pod.spec for pod in current_pods(scenario)],
        [event.full_outcome() for event in events],
        title=scenario.name,
        steps=[event.step for event in events],
        state=scenario.state,
        link=base_url + services.share_path(scenario.public_id),
    )


# --- restart what-if ------------------------------------------------------------------------------


def restart_preview(public_id: str, changes: Any = None, version: int | None = None) -> dict[str, Any]:
    """What a kubelet restart with ``changes`` would do now, on a copy of the engine (nothing stored).

    ``{"started", "stage", "error", "panic"?, "outcome": {...}}``; the outcome is the restart step's.
    """
    if changes is not None and not isinstance(changes, dict):
        raise Invalid("changes must be an object.", [{"path": "changes", "message": "expected an object"}])
    scenario = services.get_scenario(public_id)
    mm = engine(scenario, version)
    step = services.prepare_step({"op": "restart", "changes": changes}, "")
    try:
        outcome = mm.apply(step).result
    except InputError as exc:
        raise services.invalid_input(exc, "The restart is invalid.") from None
    except ConfigError as exc:
        raise services.config_refused(exc) from None
    summary = {
        "started": bool(outcome.get("started")) and "panic" not in outcome,
        "stage": outcome.get("stage") or None,
        "error": outcome.get("error") or None,
        "outcome": outcome,
    }
    if "panic" in outcome:
        summary["panic"] = outcome["panic"]
    return summary


# --- metrics --------------------------------------------------------------------------------------


def scenario_metrics(public_id: str, version: int | None = None) -> tuple[dict[str, int], dict[str, Any]]:
    """The kubelet's metric series (keyed as the metrics examples) and the machine state at ``version``."""
    mm = engine(services.get_scenario(public_id), version)
    return mm.metrics(), mm.state()


# --- Prometheus text exposition of a scenario's kubelet metrics -----------------------------------

# ``metrics.ExponentialBuckets(.05, 2, 15)`` of ``kubelet_topology_manager_admission_duration_ms``.
ADMISSION_DURATION_BUCKETS = tuple(0.05 * 2**index for index in range(15))
ADMISSION_DURATION = "kubelet_topology_manager_admission_duration_ms"
# HELP texts of pkg/kubelet/metrics/metrics.go; component-base prefixes them with the stability level.
KUBELET_HELP = {
    "kubelet_memory_manager_pinning_requests_total": (
        "The number of memory pages allocations which required pinning."
    ),
    "kubelet_memory_manager_pinning_errors_total": (
        "The number of memory pages allocations which required pinning that failed."
    ),
    "kubelet_topology_manager_admission_requests_total": (
        "The number of admission requests where resources have to be aligned."
    ),
    "kubelet_topology_manager_admission_errors_total": (
        "The number of admission request failures where resources could not be aligned."
    ),
    ADMISSION_DURATION: (
        "Duration in milliseconds to serve a pod admission request. (The playground does not time "
        "admissions: every observation is recorded as 0 ms; only the count is the kubelet's.)"
    ),
    "kubelet_container_aligned_compute_resources_count": (
        "Cumulative number of aligned compute resources allocated to containers by alignment type."
    ),
    "kubelet_container_aligned_compute_resources_failure_count": (
        "Cumulative number of failures to allocate aligned compute resources to containers by alignment type."
    ),
}
# Per-NUMA gauges of the machine state (the kubelet has none: they come from the memory manager's state).
NUMA_GAUGES = {
    "total": "Memory of this type on the NUMA node (the memory manager's machine state).",
    "system_reserved": "Memory of this type reserved for the system on the NUMA node (reservedMemory).",
    "allocatable": "Memory of this type the memory manager may assign on the NUMA node.",
    "reserved": "Memory of this type assigned to containers on the NUMA node.",
    "free": "Memory of this type still free on the NUMA node.",
}
SERIES_KEY = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\}$")


def label_value(value: str) -> str:
    """A label value escaped as the text format wants it (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels_text(labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{key}="{label_value(str(value))}"' for key, value in labels.items())
    return f"{{{inner}}}" if inner else ""


def bucket_bound(bound: float) -> str:
    """Bucket bounds as client_golang writes them (shortest float text: 0.05, 0.1, 1.6, 819.2)."""
    return repr(round(bound, 10))


def kubelet_metrics_text(series: Mapping[str, int], state: Mapping[str, Any]) -> str:
    """The series of ``MemoryManager.metrics()`` and the machine state in the Prometheus text format 0.0.4.

    Names, types and labels are the kubelet's; the admission-duration histogram is rendered whole (the
    kubelet's buckets) from its sample count, the only part the kubelet's behaviour fixes.
    """
    families: dict[str, list[tuple[str, str, int]]] = {}
    for key, value in series.items():
        match = SERIES_KEY.match(key)
        if match is None:
            continue
        name, labels = match.group("name"), match.group("labels")
        family = name.removesuffix("_count") if name == f"{ADMISSION_DURATION}_count" else name
        families.setdefault(family, []).append((name, labels, int(value)))
    lines: list[str] = []
    for family in sorted(families):
        help_text = KUBELET_HELP.get(family, family)
        lines.append(f"# HELP {family} [ALPHA] {help_text}")
        if family == ADMISSION_DURATION:
            count = sum(value for _, _, value in families[family])
            lines.append(f"# TYPE {family} histogram")
            for bound in ADMISSION_DURATION_BUCKETS:
                lines.append(f'{family}_bucket{{le="{bucket_bound(bound)}"}} {count}')
            lines.append(f'{family}_bucket{{le="+Inf"}} {count}')
            lines.append(f"{family}_sum 0")
            lines.append(f"{family}_count {count}")
            continue
        lines.append(f"# TYPE {family} counter")
        for name, labels, value in sorted(families[family]):
            lines.append(f"{name}{{{labels}}} {value}" if labels else f"{name} {value}")
    for field, help_text in NUMA_GAUGES.items():
        name = f"playground_numa_memory_{field}_bytes"
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for numa_id in sorted(state, key=lambda key: int(key)):
            for resource, table in sorted(state[numa_id].items()):
                labels = labels_text({"numa_node": str(numa_id), "resource": resource})
                lines.append(f"{name}{labels} {int(table.get(field, 0))}")
    return "\n".join(lines) + "\n"
