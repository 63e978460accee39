"""Pods and containers as the kubelet's memory manager sees them.

A pod is a Kubernetes v1 Pod JSON document decoded without API-server defaulting (like the kubelet's
``encoding/json`` decode of a static pod). Only what the Memory and Topology Managers read is kept:
names, the UID, init / app containers with their ``resources.requests`` and ``limits``, the
``restartPolicy: Always`` marker of sidecars, pod-level ``spec.resources`` and ``status.qosClass``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from allocator.errors import InputError
from allocator.quantities import Quantity, cached_quantity, quantity_from_json

__all__ = [
    "QOS_BEST_EFFORT",
    "QOS_BURSTABLE",
    "QOS_GUARANTEED",
    "Container",
    "Pod",
    "is_hugepages",
    "is_managed_resource",
    "parse_pod",
    "qos_class",
]

QOS_GUARANTEED = "Guaranteed"
QOS_BURSTABLE = "Burstable"
QOS_BEST_EFFORT = "BestEffort"

# supportedQoSComputeResources: only these two decide a pod's QoS class.
_QOS_RESOURCES = ("cpu", "memory")
# resourcehelper.IsSupportedPodLevelResource (v1.36): cpu, memory and every hugepages-<size>.
_POD_LEVEL_RESOURCES = ("cpu", "memory")


def is_hugepages(resource: str) -> bool:
    """``v1helper.IsHugePageResourceName``."""
    return resource.startswith("hugepages-")


def is_managed_resource(resource: str) -> bool:
    """The resources the Memory Manager pins: ``memory`` and every ``hugepages-<size>``."""
    return resource == "memory" or is_hugepages(resource)


@dataclass(slots=True)
class Container:
    """One container of the pod spec (init, sidecar or app). Treated as immutable once parsed."""

    name: str
    requests: dict[str, Quantity]
    limits: dict[str, Quantity]
    restart_policy: str | None = None
    init: bool = False

    @property
    def restartable(self) -> bool:
        """``podutil.IsRestartableInitContainer``: an init container with ``restartPolicy: Always``."""
        return self.init and self.restart_policy == "Always"


@dataclass(slots=True)
class Pod:
    """The parts of a v1 Pod the managers read; ``raw`` is the document as submitted.

    Treated as immutable once parsed (plain slots dataclass: frozen ones are slow to build).
    """

    name: str
    namespace: str
    uid: str
    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...]
    pod_requests: dict[str, Quantity] | None = None
    pod_limits: dict[str, Quantity] | None = None
    status_qos_class: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # status.containerStatuses / initContainerStatuses: container name -> allocatedResources (first
    # status of a name wins, like podutil.GetContainerStatus); None when the pod has no status lists.
    container_statuses: dict[str, dict[str, Quantity]] | None = None
    init_container_statuses: dict[str, dict[str, Quantity]] | None = None
    # Filled in by parse_pod (the QoS class is read on every hint and allocate call).
    qos: str = ""
    pod_level_resources: bool = False
    # Values derived from this (immutable) pod by the managers, computed once.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def all_containers(self) -> tuple[Container, ...]:
        """Init containers then app containers, in spec order: the kubelet's admission order."""
        return self.init_containers + self.containers

    def requested(self, container: Container) -> dict[str, Quantity]:
        """The requests the resource managers use (kubelet ``getRequestedResources``).

        With ``InPlacePodVerticalScaling`` (on in v1.36) a container status of the same name replaces
        ``resources.requests`` by its ``allocatedResources`` (empty when the status has none);
        sidecars also look at the init container statuses.
        """
        for statuses in (
            self.container_statuses,
            self.init_container_statuses if container.restartable else None,
        ):
            if statuses is not None and container.name in statuses:
                return statuses[container.name]
        return container.requests

    def container(self, name: str) -> Container | None:
        for container in self.all_containers:
            if container.name == name:
                return container
        return None

    @property
    def has_pod_level_resources(self) -> bool:
        """``resourcehelper.IsPodLevelResourcesSet``: spec.resources names cpu, memory or hugepages."""
        return self.pod_level_resources or _pod_level_resources_set(self)

    @property
    def qos_class(self) -> str:
        return self.qos or qos_class(self)


def _pod_level_resources_set(pod: Pod) -> bool:
    """``resourcehelper.IsPodLevelResourcesSet``: cpu, memory or a hugepages size at pod level."""
    for resources in (pod.pod_requests, pod.pod_limits):
        if resources and any(name in _POD_LEVEL_RESOURCES or is_hugepages(name) for name in resources):
            return True
    return False


def _resource_qos(requests: dict[str, Quantity], limits: dict[str, Quantity]) -> str:
    """Kubelet ``resourceQOS``: the class of one set of resource requirements.

    Requests must equal limits for cpu and for memory; both zero everywhere is BestEffort, both set
    everywhere is Guaranteed, anything else Burstable.
    """
    if not requests and not limits:
        return QOS_BEST_EFFORT
    qos = ""
    for name in _QOS_RESOURCES:
        request = requests.get(name)
        limit = limits.get(name)
        request_value = request.value if request is not None else 0
        limit_value = limit.value if limit is not None else 0
        if request_value != limit_value:
            return QOS_BURSTABLE
        best_effort = request_value == 0
        if not qos:
            qos = QOS_BEST_EFFORT if best_effort else QOS_GUARANTEED
        elif best_effort != (qos == QOS_BEST_EFFORT):
            return QOS_BURSTABLE
    return qos


def qos_class(pod: Pod) -> str:
    """``qos.GetPodQOS``: ``status.qosClass`` when set, else ``ComputePodQOS``.

    With the ``PodLevelResources`` gate (beta, on in v1.36) pod-level ``spec.resources`` decide
    instead of the containers. Otherwise every container (init, sidecar, app) is classified on its
    own: one Burstable container, or a mix of BestEffort and Guaranteed ones, makes the pod Burstable.
    """
    if pod.status_qos_class:
        return pod.status_qos_class
    if pod.pod_requests is not None or pod.pod_limits is not None:
        return _resource_qos(pod.pod_requests or {}, pod.pod_limits or {})
    pod_qos = ""
    for container in pod.init_containers + pod.containers:
        qos = _resource_qos(container.requests, container.limits)
        if qos == QOS_BURSTABLE:
            return qos
        if not pod_qos:
            pod_qos = qos
        elif pod_qos != qos:
            return QOS_BURSTABLE
    return pod_qos or QOS_BEST_EFFORT


def _expect_dict(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(path, "must be an object")
    return value


def _optional_dict(doc: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = doc.get(key)
    if value is None:
        return None
    return _expect_dict(value, f"{path}.{key}")


def _resource_list(doc: dict[str, Any] | None, key: str, path: str) -> dict[str, Quantity]:
    if doc is None:
        return {}
    values = _optional_dict(doc, key, path)
    if values is None:
        return {}
    out: dict[str, Quantity] = {}
    for name, value in values.items():
        # Fast path: an exact quantity string seen before; anything else goes the careful way.
        quantity = cached_quantity(value) if type(value) is str else None
        out[str(name)] = (
            quantity if quantity is not None else quantity_from_json(value, f"{path}.{key}.{name}")
        )
    return out


def _optional_str(doc: dict[str, Any], key: str, path: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{path}.{key}", "must be a string")
    return value


def _parse_container(doc: Any, path: str, init: bool) -> Container:
    doc = _expect_dict(doc, path)
    name = _optional_str(doc, "name", path)
    if not name:
        raise InputError(f"{path}.name", "a container needs a name")
    resources = _optional_dict(doc, "resources", path)
    return Container(
        name=name,
        requests=_resource_list(resources, "requests", f"{path}.resources"),
        limits=_resource_list(resources, "limits", f"{path}.resources"),
        restart_policy=_optional_str(doc, "restartPolicy", path),
        init=init,
    )


def _parse_containers(spec: dict[str, Any], key: str, path: str, init: bool) -> tuple[Container, ...]:
    value = spec.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError(f"{path}.{key}", "must be a list")
    return tuple(_parse_container(item, f"{path}.{key}[{i}]", init) for i, item in enumerate(value))


class _Unusual(Exception):
    """The fast decoder met something it leaves to the careful one (which names the JSON path)."""


def _fast_resources(resources: dict[str, Any], key: str) -> dict[str, Quantity]:
    values = resources.get(key)
    if values is None:
        return {}
    if type(values) is not dict:
        raise _Unusual
    out: dict[str, Quantity] = {}
    for name, value in values.items():
        quantity = cached_quantity(value) if type(value) is str else None
        if quantity is None:
            raise _Unusual
        out[name] = quantity
    return out


def _fast_containers(spec: dict[str, Any], key: str, init: bool) -> tuple[Container, ...]:
    value = spec.get(key)
    if value is None:
        return ()
    if type(value) is not list:
        raise _Unusual
    out: list[Container] = []
    for doc in value:
        if type(doc) is not dict:
            raise _Unusual
        name = doc.get("name")
        restart_policy = doc.get("restartPolicy")
        resources = doc.get("resources")
        if (
            type(name) is not str
            or not name
            or (restart_policy is not None and type(restart_policy) is not str)
        ):
            raise _Unusual
        if resources is None:
            requests: dict[str, Quantity] = {}
            limits: dict[str, Quantity] = {}
        elif type(resources) is dict:
            requests = _fast_resources(resources, "requests")
            limits = _fast_resources(resources, "limits")
        else:
            raise _Unusual
        out.append(Container(name, requests, limits, restart_policy, init))
    return tuple(out)


def _fast_pod(doc: Any) -> Pod:
    """The common case of :func:`parse_pod` without building JSON paths; :class:`_Unusual` otherwise."""
    if type(doc) is not dict:
        raise _Unusual
    metadata = doc.get("metadata")
    spec = doc.get("spec")
    status = doc.get("status")
    if metadata is None:
        metadata = {}
    if type(metadata) is not dict or type(spec) is not dict or "resources" in spec or status is not None:
        raise _Unusual
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    uid = metadata.get("uid")
    for value in (name, namespace, uid):
        if value is not None and type(value) is not str:
            raise _Unusual
    containers = _fast_containers(spec, "containers", False)
    init_containers = _fast_containers(spec, "initContainers", True)
    if len({c.name for c in containers} | {c.name for c in init_containers}) != len(containers) + len(
        init_containers
    ):
        raise _Unusual
    pod = Pod(name or "", namespace or "", uid or "", containers, init_containers, None, None, "", doc)
    pod.qos = qos_class(pod)
    return pod


def _parse_statuses(status: dict[str, Any], key: str, path: str) -> dict[str, dict[str, Quantity]] | None:
    value = status.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError(f"{path}.{key}", "must be a list")
    out: dict[str, dict[str, Quantity]] = {}
    for i, item in enumerate(value):
        item_path = f"{path}.{key}[{i}]"
        item = _expect_dict(item, item_path)
        name = _optional_str(item, "name", item_path) or ""
        if name not in out:
            out[name] = _resource_list(item, "allocatedResources", item_path)
    return out


def parse_pod(pod: dict[str, Any], path: str = "pod") -> Pod:
    """Decode a v1 Pod JSON document; raises :class:`InputError` naming the JSON path of a problem."""
    try:
        return _fast_pod(pod)
    except _Unusual:
        pass
    doc = _expect_dict(pod, path)
    metadata = _optional_dict(doc, "metadata", path) or {}
    spec = _optional_dict(doc, "spec", path)
    if spec is None:
        raise InputError(f"{path}.spec", "a pod needs a spec")
    name = _optional_str(metadata, "name", f"{path}.metadata") or ""
    namespace = _optional_str(metadata, "namespace", f"{path}.metadata") or ""
    # The caller generates a UID when the document has none (scenario format); keep "" otherwise.
    uid = _optional_str(metadata, "uid", f"{path}.metadata") or ""
    spec_path = f"{path}.spec"
    containers = _parse_containers(spec, "containers", spec_path, init=False)
    init_containers = _parse_containers(spec, "initContainers", spec_path, init=True)
    names = [c.name for c in init_containers + containers]
    seen: set[str] = set()
    for i, container_name in enumerate(names):
        if container_name in seen:
            where = (
                f"initContainers[{i}]"
                if i < len(init_containers)
                else f"containers[{i - len(init_containers)}]"
            )
            raise InputError(f"{spec_path}.{where}.name", f"duplicate container name {container_name!r}")
        seen.add(container_name)
    pod_resources = _optional_dict(spec, "resources", spec_path)
    pod_requests = pod_limits = None
    if pod_resources is not None:
        pod_requests = _resource_list(pod_resources, "requests", f"{spec_path}.resources")
        pod_limits = _resource_list(pod_resources, "limits", f"{spec_path}.resources")
    status = _optional_dict(doc, "status", path) or {}
    status_qos = _optional_str(status, "qosClass", f"{path}.status") or ""
    statuses = _parse_statuses(status, "containerStatuses", f"{path}.status")
    init_statuses = _parse_statuses(status, "initContainerStatuses", f"{path}.status")
    pod = Pod(
        name=name,
        namespace=namespace,
        uid=uid,
        containers=containers,
        init_containers=init_containers,
        pod_requests=pod_requests,
        pod_limits=pod_limits,
        status_qos_class=status_qos,
        raw=doc,
        container_statuses=statuses,
        init_container_statuses=init_statuses,
    )
    # Computed once here: the managers read both on every hint and allocate call.
    pod.qos = qos_class(pod)
    pod.pod_level_resources = _pod_level_resources_set(pod)
    return pod
