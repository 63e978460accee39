"""``KubeletConfiguration`` YAML (the kubelet's ``--config`` file) -> the scenario ``kubelet`` section.

v1beta1 field names; absent fields take the v1beta1 defaults (Memory Manager ``None``, Topology Manager
``none``/``container``). Errors name the field and the YAML line at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from allocator.errors import InputError
from allocator.scenario import KubeletSpec, join_path, parse_kubelet

KUBELET_CONFIG_KIND = "KubeletConfiguration"
KUBELET_CONFIG_GROUP = "kubelet.config.k8s.io"
# v1beta1 KubeletConfiguration field -> scenario ``kubelet`` key. The first block is what the Memory and
# Topology Managers read; the second is kept for the CPU Manager and the start-up checks.
_KUBELET_FIELDS: dict[str, str] = {
    "memoryManagerPolicy": "memory_manager_policy",
    "reservedMemory": "reserved_memory",
    "topologyManagerPolicy": "topology_manager_policy",
    "topologyManagerScope": "topology_manager_scope",
    "topologyManagerPolicyOptions": "topology_manager_policy_options",
    "kubeReserved": "kube_reserved",
    "systemReserved": "system_reserved",
    "evictionHard": "eviction_hard",
    "cpuManagerPolicy": "cpu_manager_policy",
    "cpuManagerPolicyOptions": "cpu_manager_policy_options",
    "reservedSystemCPUs": "reserved_system_cpus",
    "mergeDefaultEvictionSettings": "merge_default_eviction_settings",
    "featureGates": "feature_gates",
}
_RESERVED_FIELDS = {"numaNode": "numa_node", "limits": "limits"}
# The v1beta1 defaults the scenario format does not share (its Memory Manager default is Static).
_V1BETA1_DEFAULTS = {"memory_manager_policy": "None"}


def _load_yaml_with_lines(text: str, what: str) -> tuple[Any, dict[str, int]]:
    """``yaml.safe_load`` plus a map from JSON path (YAML field names) to 1-based line numbers."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise InputError(where, f"{what} is not valid YAML: {err.problem or err}") from None
    except yaml.YAMLError as err:
        raise InputError("", f"{what} is not valid YAML: {err}") from None
    lines: dict[str, int] = {}

    def walk(n: yaml.Node, path: str) -> None:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                walk(value, join_path(path, str(key.value)))
                lines[join_path(path, str(key.value))] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                walk(item, join_path(path, index))

    if node is not None:
        walk(node, "")
    return data, lines


def _with_line(err: InputError, lines: Mapping[str, int]) -> InputError:
    """Add ``(line N)`` for the deepest path prefix the YAML located."""
    path = err.path
    while path:
        if path in lines:
            return InputError(err.path, f"{err.message} (line {lines[path]})")
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return err


def _translate_path(scenario_path: str) -> str:
    """``kubelet.reserved_memory[0].numa_node`` -> ``reservedMemory[0].numaNode``."""
    path = scenario_path.removeprefix("kubelet").lstrip(".")
    reverse = {snake: camel for camel, snake in _KUBELET_FIELDS.items()}
    head = re.match(r"[A-Za-z_]+", path)
    if head and head.group(0) in reverse:
        path = reverse[head.group(0)] + path[head.end() :]
    return re.sub(r"\.numa_node\b", ".numaNode", path)


def kubelet_doc_from_configuration(text: str) -> dict[str, Any]:
    """A ``KubeletConfiguration`` YAML/JSON document -> the scenario's ``kubelet`` section (quantities kept).

    ``apiVersion``/``kind`` may be omitted (a snippet); when present they must name a
    ``kubelet.config.k8s.io`` ``KubeletConfiguration``. Fields outside the resource managers are ignored.
    The values are validated here: an error names the v1beta1 field and its line.
    """
    doc, lines = _load_yaml_with_lines(text, "the KubeletConfiguration")
    if not isinstance(doc, Mapping):
        raise InputError("", "a KubeletConfiguration must be a YAML mapping")
    kind = doc.get("kind")
    if kind is not None and kind != KUBELET_CONFIG_KIND:
        raise _with_line(InputError("kind", f"expected {KUBELET_CONFIG_KIND}, got {kind!r}"), lines)
    api_version = doc.get("apiVersion")
    if api_version is not None and not str(api_version).startswith(KUBELET_CONFIG_GROUP + "/"):
        raise _with_line(
            InputError("apiVersion", f"expected {KUBELET_CONFIG_GROUP}/v1beta1, got {api_version!r}"), lines
        )
    kubelet: dict[str, Any] = dict(_V1BETA1_DEFAULTS)
    for camel, snake in _KUBELET_FIELDS.items():
        if camel not in doc or doc[camel] is None:
            continue
        value = doc[camel]
        if camel == "reservedMemory":
            value = _reserved_memory_entries(value, lines)
        kubelet[snake] = value
    try:
        parse_kubelet(kubelet, "kubelet")  # validate now, so errors name the YAML field and line
    except InputError as err:
        raise _with_line(InputError(_translate_path(err.path), err.message), lines) from None
    return kubelet


def _reserved_memory_entries(value: Any, lines: Mapping[str, int]) -> Any:
    if not isinstance(value, list):
        return value  # parse_kubelet reports the wrong type
    entries = []
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            entries.append(entry)
            continue
        converted: dict[str, Any] = {}
        for key, item in entry.items():
            if key not in _RESERVED_FIELDS:
                path = join_path(join_path("reservedMemory", index), str(key))
                raise _with_line(InputError(path, "unknown field (expected numaNode and limits)"), lines)
            converted[_RESERVED_FIELDS[key]] = item
        entries.append(converted)
    return entries


def parse_kubelet_configuration(text: str) -> KubeletSpec:
    """``KubeletConfiguration`` YAML -> :class:`KubeletSpec`; errors name the v1beta1 field and its line."""
    return parse_kubelet(kubelet_doc_from_configuration(text), "kubelet")
