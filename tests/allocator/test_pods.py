"""Pods as the Memory Manager reads them: decoding, QoS (``GetPodQOS``), sidecars, pod-level resources."""

from __future__ import annotations

from typing import Any

import pytest

from allocator.errors import InputError
from allocator.pods import (
    QOS_BEST_EFFORT,
    QOS_BURSTABLE,
    QOS_GUARANTEED,
    is_managed_resource,
    parse_pod,
)


def _container(
    name: str, requests: dict[str, Any] | None = None, limits: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "resources": resources, **extra}


def _pod(
    containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "default", "uid": "uid-p"},
        "spec": {"containers": containers, **spec},
    }
    if init is not None:
        doc["spec"]["initContainers"] = init
    return doc


G1 = {"cpu": "1", "memory": "1Gi"}

QOS_CASES = [
    ("no resources at all is BestEffort", [_container("c")], None, QOS_BEST_EFFORT),
    (
        "equal cpu and memory requests and limits is Guaranteed",
        [_container("c", G1, G1)],
        None,
        QOS_GUARANTEED,
    ),
    ("limits only (no API defaulting) is Burstable", [_container("c", None, G1)], None, QOS_BURSTABLE),
    (
        "a memory request below its limit is Burstable",
        [_container("c", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "2Gi"})],
        None,
        QOS_BURSTABLE,
    ),
    (
        "a missing cpu limit is Burstable",
        [_container("c", {"memory": "1Gi"}, {"memory": "1Gi"})],
        None,
        QOS_BURSTABLE,
    ),
    (
        "equal values in different units are equal",
        [_container("c", {"cpu": "1000m", "memory": "1024Mi"}, G1)],
        None,
        QOS_GUARANTEED,
    ),
    (
        "hugepages do not count for QoS",
        [_container("c", {**G1, "hugepages-1Gi": "1Gi"}, {**G1, "hugepages-1Gi": "2Gi"})],
        None,
        QOS_GUARANTEED,
    ),
    (
        "an init container without limits makes the pod Burstable",
        [_container("c", G1, G1)],
        [_container("i", G1)],
        QOS_BURSTABLE,
    ),
    (
        "a Guaranteed sidecar keeps the pod Guaranteed",
        [_container("c", G1, G1)],
        [_container("s", G1, G1, restartPolicy="Always")],
        QOS_GUARANTEED,
    ),
    (
        "each container is classified on its own (requests above limits in one is Burstable)",
        [
            _container("a", {"cpu": "1", "memory": "2Gi"}, {"cpu": "1", "memory": "1Gi"}),
            _container("b", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "2Gi"}),
        ],
        None,
        QOS_BURSTABLE,
    ),
]


@pytest.mark.parametrize(
    ("containers", "init", "qos"), [c[1:] for c in QOS_CASES], ids=[c[0] for c in QOS_CASES]
)
def test_qos_class(containers: list[dict[str, Any]], init: list[dict[str, Any]] | None, qos: str) -> None:
    assert parse_pod(_pod(containers, init)).qos_class == qos


def test_status_qos_class_wins_over_the_spec() -> None:
    doc = _pod([_container("c")])
    doc["status"] = {"qosClass": "Guaranteed"}
    assert parse_pod(doc).qos_class == QOS_GUARANTEED


def test_pod_level_resources_decide_qos_and_are_detected() -> None:
    pod = parse_pod(_pod([_container("c")], resources={"requests": G1, "limits": G1}))
    assert pod.qos_class == QOS_GUARANTEED
    assert pod.has_pod_level_resources
    plain = parse_pod(_pod([_container("c", G1, G1)]))
    assert not plain.has_pod_level_resources


def test_containers_in_admission_order_and_sidecars() -> None:
    pod = parse_pod(
        _pod(
            [_container("app", G1, G1)],
            [_container("init", G1, G1), _container("side", G1, G1, restartPolicy="Always")],
        )
    )
    assert [c.name for c in pod.all_containers] == ["init", "side", "app"]
    assert [c.restartable for c in pod.all_containers] == [False, True, False]
    # restartPolicy only makes init containers sidecars.
    app = parse_pod(_pod([_container("app", G1, G1, restartPolicy="Always")])).containers[0]
    assert not app.restartable
    assert pod.uid == "uid-p" and pod.name == "p" and pod.namespace == "default"


def test_a_quantity_that_parses_but_is_not_int64_is_not_an_input_error() -> None:
    pod = parse_pod(_pod([_container("c", {"cpu": "1", "memory": "1.5Gi"}, {"cpu": "1", "memory": "1.5Gi"})]))
    assert pod.qos_class == QOS_GUARANTEED
    assert pod.containers[0].requests["memory"].int64 is None


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"metadata": {"uid": "u"}}, "pod.spec"),
        ({"metadata": {"uid": "u"}, "spec": {"containers": {}}}, "pod.spec.containers"),
        (
            {"metadata": {"uid": "u"}, "spec": {"containers": [{"resources": {}}]}},
            "pod.spec.containers[0].name",
        ),
        ({"metadata": {"uid": 5}, "spec": {"containers": []}}, "pod.metadata.uid"),
        (_pod([_container("c", {"memory": "lots"})]), "pod.spec.containers[0].resources.requests.memory"),
        (
            _pod([_container("c")], [_container("i", None, {"memory": "1Gx"})]),
            "pod.spec.initContainers[0].resources.limits.memory",
        ),
        (_pod([_container("c"), _container("c")]), "pod.spec.containers[1].name"),
        ([], "pod"),
    ],
    ids=[
        "no spec",
        "containers not a list",
        "container without a name",
        "uid not a string",
        "bad request quantity",
        "bad init limit quantity",
        "duplicate container name",
        "not an object",
    ],
)
def test_malformed_pods_name_the_json_path(doc: Any, path: str) -> None:
    with pytest.raises(InputError) as info:
        parse_pod(doc)
    assert info.value.path == path


@pytest.mark.parametrize(
    ("name", "managed"),
    [
        ("memory", True),
        ("hugepages-2Mi", True),
        ("hugepages-1Gi", True),
        ("cpu", False),
        ("ephemeral-storage", False),
    ],
)
def test_managed_resources(name: str, managed: bool) -> None:
    assert is_managed_resource(name) is managed


def test_the_fast_decoder_agrees_with_the_careful_one_on_every_example_pod(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json
    from pathlib import Path

    import allocator.pods as pods

    examples = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples" / "vectors"
    docs = [
        step["pod"]
        for path in sorted(examples.glob("*.json"))
        for step in json.loads(path.read_text())["steps"]
        if step["op"] == "admit"
    ]
    fast = [parse_pod(doc) for doc in docs]

    def unusual(doc: Any) -> pods.Pod:
        raise pods._Unusual

    monkeypatch.setattr(pods, "_fast_pod", unusual)
    careful = [parse_pod(doc) for doc in docs]
    assert len(docs) > 100
    assert fast == careful
    assert [p.qos_class for p in fast] == [p.qos_class for p in careful]


@pytest.mark.parametrize(
    ("resources", "pod_level"),
    [
        ({"requests": {"hugepages-2Mi": "2Mi"}}, True),
        ({"limits": {"memory": "1Gi"}}, True),
        ({"requests": {"ephemeral-storage": "1Gi"}}, False),
        ({}, False),
    ],
    ids=["hugepages", "memory limit", "unsupported resource only", "empty"],
)
def test_pod_level_resources_set(resources: dict[str, Any], pod_level: bool) -> None:
    assert (
        parse_pod(_pod([_container("c", G1, G1)], resources=resources)).has_pod_level_resources is pod_level
    )


def test_allocated_resources_of_a_container_status_replace_the_spec_requests() -> None:
    doc = _pod([_container("app", G1, G1)], [_container("side", G1, G1, restartPolicy="Always")])
    doc["status"] = {
        "containerStatuses": [{"name": "app", "allocatedResources": {"cpu": "1", "memory": "2Gi"}}],
        "initContainerStatuses": [{"name": "side"}],
    }
    pod = parse_pod(doc)
    app, side = pod.containers[0], pod.init_containers[0]
    assert pod.requested(app)["memory"].int64 == 2 << 30
    # A sidecar's status without allocatedResources means no requests at all (Go's nil map).
    assert pod.requested(side) == {}
    plain = parse_pod(_pod([_container("app", G1, G1)]))
    assert plain.requested(plain.containers[0]) is plain.containers[0].requests
