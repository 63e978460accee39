"""The fast write path: plain-SQL stores, one conflict query per request, light outcomes, the pooled
ASGI handler and the JSON encoder's fallbacks. Behaviour must be exactly what the ORM path gave."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.db import connection, transaction

from playground import fastjson, services
from playground.models import Event, Pod, Scenario
from tests.playground.conftest import Owner, guaranteed_pod

# --- a request's pods: a name or uid in use refuses the whole request ---------------------------

CONFLICTS = [
    # (stored before, submitted together, refused path)
    ([], [("a", "u1"), ("a", "u2")], "pods[1].metadata.name"),
    ([], [("a", "u1"), ("b", "u1")], "pods[1].metadata.uid"),
    ([("a", "u1")], [("b", "u2"), ("a", "u3")], "pods[1].metadata.name"),
    ([("a", "u1")], [("b", "u1")], "pod.metadata.uid"),
    ([("a", "u1")], [("c", "u3"), ("d", "u4"), ("e", "u1")], "pods[2].metadata.uid"),
]


@pytest.mark.parametrize(("stored", "submitted", "path"), CONFLICTS)
def test_a_name_or_uid_in_use_refuses_the_request_and_stores_nothing(
    owner: Owner, stored: list[tuple[str, str]], submitted: list[tuple[str, str]], path: str
) -> None:
    for name, uid in stored:
        assert owner.submit(guaranteed_pod(name, "256Mi", uid=uid)).status_code == 201
    before = owner.view()
    response = owner.submit(*(guaranteed_pod(name, "256Mi", uid=uid) for name, uid in submitted))
    assert response.status_code == 409, response.content
    assert [error["path"] for error in response.json()["errors"]] == [path]
    after = owner.view()
    assert (after["version"], after["pods"], after["state"]) == (
        before["version"],
        before["pods"],
        before["state"],
    )
    assert Event.objects.filter(scenario__public_id=owner.id).count() == 1 + len(stored)


def test_stored_rows_read_back_as_the_orm_would_store_them(owner: Owner) -> None:
    pods = [guaranteed_pod(f"p{index}", "2Gi") for index in range(5)]  # three fit, two are Failed
    body = owner.submit(*pods).json()
    assert body["version"] == 5
    events = list(Event.objects.filter(scenario__public_id=owner.id, version__gte=1).order_by("version"))
    # The outcome column holds the light outcome, the checkpoint column the checkpoint as orjson text.
    assert [event.full_outcome() for event in events] == body["outcomes"]
    assert [event.outcome for event in events] == [services.light_outcome(o) for o in body["outcomes"]]
    assert [event.checkpoint for event in events] == [
        orjson.dumps(outcome["checkpoint"]).decode() for outcome in body["outcomes"]
    ]
    assert [event.step["pod"]["metadata"]["name"] for event in events] == [f"p{i}" for i in range(5)]
    assert all(event.created_at is not None and event.op == "admit" for event in events)
    rows = {pod.name: pod for pod in Pod.objects.filter(scenario__public_id=owner.id)}
    assert sorted(rows) == [f"p{i}" for i in range(5)]
    assert [rows[f"p{i}"].admitted_version for i in range(5)] == [1, 2, 3, 4, 5]
    statuses = [rows[f"p{i}"].status for i in range(5)]
    admitted = [outcome["admitted"] for outcome in body["outcomes"]]
    assert statuses == [Pod.RUNNING if ok else Pod.FAILED for ok in admitted] and not all(admitted)
    scenario = Scenario.objects.get(public_id=owner.id)
    assert scenario.version == 5 and scenario.state == body["outcomes"][-1]["state_after"]


# --- light outcomes ------------------------------------------------------------------------------


def test_light_events_are_the_full_events_without_the_checkpoint(owner: Owner) -> None:
    owner.submit(guaranteed_pod("a", "1Gi"), guaranteed_pod("b", "1Gi"))
    assert owner.delete("a").status_code == 200
    full = owner.client.get(f"/api/v1/scenarios/{owner.id}/events").json()["events"]
    light = owner.client.get(f"/api/v1/scenarios/{owner.id}/events?light=true").json()["events"]
    assert len(full) == len(light) == 4
    assert all("checkpoint" in event["outcome"] for event in full[1:])
    for whole, part in zip(full, light, strict=True):
        expected = {key: value for key, value in whole["outcome"].items() if key != "checkpoint"}
        assert part["outcome"] == expected
        assert {**part, "outcome": None} == {**whole, "outcome": None}


def test_a_light_submission_answers_without_the_checkpoint_and_stores_it(owner: Owner) -> None:
    response = owner.client.post(
        f"/api/v1/scenarios/{owner.id}/pods?light=true",
        json.dumps(guaranteed_pod("a", "1Gi")),
        content_type="application/json",
        **owner.auth,
    )
    assert response.status_code == 201
    [outcome] = response.json()["outcomes"]
    assert outcome["admitted"] is True and "checkpoint" not in outcome and "state_after" in outcome
    [event] = owner.client.get(f"/api/v1/scenarios/{owner.id}/events?after=0").json()["events"]
    assert event["outcome"]["checkpoint"]["entries"] and services.light_outcome(event["outcome"]) == outcome


# --- the pooled ASGI handler ---------------------------------------------------------------------


def asgi_request(method: str, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
    from playground.asgi import application

    return through(application, method, path, body, token)


@pytest.mark.django_db(transaction=True)
def test_requests_through_daphnes_application_run_on_the_pool_with_the_middleware(
    two_nodes: dict[str, Any],
) -> None:
    created = asgi_request("POST", "/api/v1/scenarios", two_nodes)
    assert created["status"] == 201
    scenario = json.loads(created["body"])
    threads_before = threading.active_count()
    for index in range(5):
        response = asgi_request(
            "POST",
            f"/api/v1/scenarios/{scenario['id']}/pods",
            guaranteed_pod(f"p{index}"),
            scenario["edit_token"],
        )
        assert response["status"] == 201, response["body"]
        assert json.loads(response["body"])["version"] == index + 1
    # No thread per request: the pool is at most its fixed size, started by the first requests.
    assert threading.active_count() <= threads_before + 8
    headers = {name.lower(): value for name, value in response["headers"]}
    assert headers[b"x-content-type-options"] == b"nosniff" and b"content-security-policy" in headers
    view = json.loads(asgi_request("GET", f"/api/v1/scenarios/{scenario['id']}")["body"])
    assert view["version"] == 5 and [pod["name"] for pod in view["pods"]] == [f"p{i}" for i in range(5)]
    refused = asgi_request("POST", f"/api/v1/scenarios/{scenario['id']}/pods", guaranteed_pod("x"), "wrong")
    assert refused["status"] == 403
    close_pool_connections()


def close_pool_connections() -> None:
    """Each pool thread of the site's handler closes its kept connection (PostgreSQL could not drop the
    test database otherwise): a barrier puts one call on every thread."""
    from django.db import connections

    from playground.asgi import django_asgi_app

    barrier = threading.Barrier(django_asgi_app.threads)

    def close() -> None:
        barrier.wait(timeout=10)
        connections.close_all()

    pool = django_asgi_app.executor()
    for future in [pool.submit(close) for _ in range(django_asgi_app.threads)]:
        future.result(timeout=20)


# --- JSON -----------------------------------------------------------------------------------------

ENCODINGS = [
    ({"a": [1, 2.5, None, True, "é"]}, {"a": [1, 2.5, None, True, "é"]}),
    ({"huge": 2**70}, {"huge": 2**70}),  # beyond orjson's 64 bits: the standard library's turn
    ({"lone": "\udc80"}, {"lone": "\udc80"}),  # not UTF-8: kept as a \u escape
    ({1: "int key"}, {"1": "int key"}),
]


@pytest.mark.parametrize(("value", "decoded"), ENCODINGS)
def test_fastjson_encodes_what_the_standard_library_does(value: Any, decoded: Any) -> None:
    encoded = fastjson.dumps(value)
    assert json.loads(encoded) == decoded == json.loads(json.dumps(value))
    assert fastjson.dumps_str(value) == encoded.decode()


@pytest.mark.django_db(transaction=True)
def test_the_process_write_queue_is_sqlites_and_never_taken_inside_a_transaction() -> None:
    outside = services.process_write_lock()
    with transaction.atomic():
        inside = services.process_write_lock()
    assert inside is not services._sqlite_writers
    assert (outside is services._sqlite_writers) == (connection.vendor == "sqlite")


def test_a_forked_child_runs_requests_on_a_pool_of_its_own() -> None:
    from playground.handler import PooledASGIHandler

    handler = PooledASGIHandler(threads=2)
    assert handler.executor().submit(os.getpid).result(timeout=5) == os.getpid()  # the parent's threads run
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the live servers of the browser tests are forked like this
        try:
            ran = handler.executor().submit(os.getpid).result(timeout=5) == os.getpid()
        except Exception:
            ran = False
        os.write(write, b"1" if ran else b"0")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 1) == b"1"


# --- the outcome encoder: a scenario's stream of outcomes, spliced, is what orjson writes -------------

STREAMS = [
    # (memory per node, steps: ("admit", name, memory, containers) | ("remove", name))
    ("64Gi", [("admit", f"p{i}", "1Gi", 1 + i % 2) for i in range(20)]),
    ("8Gi", [("admit", "a", "2Gi", 1), ("admit", "b", "2Gi", 2), ("remove", "a"),
             ("admit", "c", "1Gi", 1), ("admit", "big", "30Gi", 1), ("admit", "d", "1Gi", 1),
             ("remove", "d"), ("admit", "a", "1Gi", 1)]),
    ("4Gi", [("admit", f"x{i}", "1Gi", 1) for i in range(8)] + [("remove", "x1"), ("admit", "y", "1Gi", 1)]),
]  # fmt: skip


@pytest.mark.parametrize(("memory", "steps"), STREAMS)
def test_encoded_outcomes_are_byte_for_byte_what_orjson_writes(
    memory: str, steps: list[tuple[Any, ...]]
) -> None:
    import orjson

    from allocator import MemoryManager, parse_scenario

    scenario = parse_scenario(
        {
            "name": "stream",
            "machine": {"numa_nodes": [{"id": 0, "memory": memory}, {"id": 1, "memory": memory}]},
            "kubelet": {
                "topology_manager_policy": "single-numa-node",
                "reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}],
            },
        }
    )
    mm = MemoryManager.from_scenario(scenario)
    stream = f"test-{memory}-{len(steps)}"
    spliced = 0
    for step in steps:
        if step[0] == "admit":
            _, name, size, containers = step
            outcome = mm.apply(
                {"op": "admit", "pod": guaranteed_pod(name, size, uid=f"uid-{name}", containers=containers)}
            )
        else:
            outcome = mm.apply({"op": "remove", "pod_uid": f"uid-{step[1]}"})
        expected = orjson.dumps(outcome.result)
        assert fastjson.encode_outcome(outcome.result, stream) == expected, step
        assert fastjson.encode_outcome(outcome.result) == expected, step
        spliced += "entries" in outcome.result["checkpoint"] and stream in fastjson._last_entries
    assert spliced  # the cached path was taken


def test_an_outcome_orjson_refuses_is_encoded_whole() -> None:
    outcome = {
        "admitted": True,
        "checkpoint": {"policyName": "Static", "entries": {"u": {"c": [{"size": 2**70}]}}},
    }
    assert json.loads(fastjson.encode_outcome(outcome, "refused")) == outcome


# --- group commit: one transaction for the queued requests, each with its own answer ----------------


def pending_admit(public_id: str, token: str | None, *pods: dict[str, Any]) -> services.PendingWrite:
    """What ``services.admit_pods`` queues for these pods (its work, as a leader would run it)."""
    captured: list[services.PendingWrite] = []

    def capture(public_id: str, token: str | None, work: Any, adding: int) -> services.Applied:
        captured.append(services.PendingWrite(token, work, adding))
        raise LookupError("captured")

    original = services.write
    services.write = capture  # type: ignore[assignment]
    try:
        with pytest.raises(LookupError):
            services.admit_pods(public_id, token, list(pods))
    finally:
        services.write = original  # type: ignore[assignment]
    return captured[0]


GROUPS = [
    # (requests: (token ok?, pod names), per request: admitted names or the error's status)
    ([(True, ["a"]), (True, ["b"]), (True, ["c", "d"])], [["a"], ["b"], ["c", "d"]]),
    ([(True, ["a"]), (False, ["b"]), (True, ["c"])], [["a"], 403, ["c"]]),
    ([(True, ["a"]), (True, ["a"]), (True, ["b", "a"]), (True, ["c"])], [["a"], 409, 409, ["c"]]),
    ([(True, ["a", "b"]), (True, ["c", "c"]), (True, ["big"]), (True, ["d"])],
     [["a", "b"], 409, ["big"], ["d"]]),
]  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("requests", "expected"), GROUPS)
def test_a_group_commits_each_request_alone_and_refused_ones_store_nothing(
    two_nodes: dict[str, Any], requests: list[tuple[bool, list[str]]], expected: list[Any]
) -> None:
    created = services.create_scenario(two_nodes)
    public_id, token = created.scenario.public_id, created.edit_token
    sizes = {"big": "3Gi"}
    group = [
        pending_admit(
            public_id, token if ok else "wrong", *(guaranteed_pod(n, sizes.get(n, "256Mi")) for n in names)
        )
        for ok, names in requests
    ]
    services.run_group(public_id, group)
    version = 0
    for request, want in zip(group, expected, strict=True):
        assert request.done
        if isinstance(want, int):
            assert isinstance(request.error, services.ServiceError) and request.error.status == want
            continue
        applied = request.result()
        version += len(want)
        assert applied.version == version
        assert [event["pod_name"] for event in applied.events] == want
        assert [json.loads(encoded) for encoded in applied.encoded] == applied.outcomes
        light = [services.light_outcome(outcome) for outcome in applied.outcomes]
        assert [json.loads(encoded) for encoded in applied.encoded_light] == light
    stored = list(Event.objects.filter(scenario__public_id=public_id, version__gte=1).order_by("version"))
    assert [event.version for event in stored] == list(range(1, version + 1))
    admitted = [name for want in expected if not isinstance(want, int) for name in want]
    assert [event.pod_name for event in stored] == admitted
    assert sorted(Pod.objects.filter(scenario__public_id=public_id).values_list("name", flat=True)) == sorted(
        admitted
    )
    # The group's engine is what replaying the stored log gives: no refused step reached it.
    cold = services.engine_at(Scenario.objects.get(public_id=public_id), version)
    assert services.engines.take(public_id, version).state() == cold.state()  # type: ignore[union-attr]
    assert Scenario.objects.get(public_id=public_id).version == version


@pytest.mark.django_db(transaction=True)
def test_a_request_whose_steps_reached_the_engine_and_failed_leaves_the_group_a_fresh_engine(
    two_nodes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = services.create_scenario(two_nodes)
    public_id, token = created.scenario.public_id, created.edit_token
    group = [pending_admit(public_id, token, guaranteed_pod(name, "1Gi")) for name in ("a", "b", "c")]
    real_store = services.store_admitted_pods

    def failing_store(scenario: Scenario, events: list[Event]) -> None:
        if events[0].pod_name == "b":  # after "b" was applied to the engine and its event stored
            raise services.Invalid("refused late")
        real_store(scenario, events)

    monkeypatch.setattr(services, "store_admitted_pods", failing_store)
    services.run_group(public_id, group)
    assert [request.error is None for request in group] == [True, False, True]
    assert group[2].result().version == 2
    [outcome] = group[2].result().outcomes
    reserved = sum(node["memory"]["reserved"] for node in outcome["state_after"].values())
    assert reserved == 2 * 1024**3  # a and c: b's step was undone with its savepoint
    assert list(Pod.objects.filter(scenario__public_id=public_id).values_list("name", flat=True)) == [
        "a",
        "c",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_warm_engine_behind_the_stored_versions_catches_up_without_a_rebuild(
    two_nodes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = services.create_scenario(two_nodes)
    public_id, token = created.scenario.public_id, created.edit_token
    for name in ("a", "b"):
        services.admit_pods(public_id, token, [guaranteed_pod(name, "512Mi")])
    behind = services.engines.take_latest(public_id)
    assert behind is not None and behind[0] == 2
    services.engines.clear()  # "another process" writes versions 3 and 4
    services.admit_pods(public_id, token, [guaranteed_pod("c", "1Gi")])
    services.remove_pod(public_id, token, "a")
    services.engines.clear()
    services.engines.put(public_id, *behind)  # this process last saw version 2
    rebuilt: list[int] = []
    real_engine_at = services.engine_at
    monkeypatch.setattr(services, "engine_at", lambda s, v: rebuilt.append(v) or real_engine_at(s, v))
    [outcome] = services.admit_pods(public_id, token, [guaranteed_pod("d", "1Gi")]).outcomes
    assert rebuilt == []
    cold = real_engine_at(Scenario.objects.get(public_id=public_id), 4)
    expected = cold.apply(
        {"op": "admit", "pod": Event.objects.get(scenario__public_id=public_id, version=5).step["pod"]}
    )
    assert outcome == expected.result
    # A log that does not match the engine (here: an edited step) sends it back to the snapshot.
    services.engines.put(public_id, 2, real_engine_at(Scenario.objects.get(public_id=public_id), 2))
    Event.objects.filter(scenario__public_id=public_id, version=3).update(
        step={"op": "remove", "pod_uid": "nope"}
    )
    services.admit_pods(public_id, token, [guaranteed_pod("e", "256Mi")])
    assert rebuilt == [5]


@pytest.fixture
def pooled_handler() -> Iterator[Callable[[], Any]]:
    """PooledASGIHandlers with one pool thread each; their database connections are closed afterwards
    (a kept connection would stop the test database from being dropped)."""
    from django.db import connections

    from playground.handler import PooledASGIHandler

    made: list[Any] = []

    def make() -> Any:
        made.append(PooledASGIHandler(threads=1))
        return made[-1]

    yield make
    for handler in made:
        handler.executor().submit(connections.close_all).result(timeout=10)
        handler.executor().shutdown(wait=True)


# --- the API's lean middleware chain answers as the whole chain does ---------------------------------


def through(
    handler: Any, method: str, path: str, body: Any = None, token: str | None = None
) -> dict[str, Any]:
    # No cookie: with one, the whole chain's SessionMiddleware would look its session up (and clear an
    # unknown one), which the API, authorised by its Bearer token, has no use for.
    headers = [(b"host", b"localhost"), (b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    data = json.dumps(body).encode() if body is not None else b""
    communicator = HttpCommunicator(handler, method, path, body=data, headers=headers)
    return async_to_sync(communicator.get_response)(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_the_api_chain_answers_byte_for_byte_as_the_whole_chain(
    two_nodes: dict[str, Any], pooled_handler: Callable[[], Any]
) -> None:
    lean = pooled_handler()
    whole = pooled_handler()
    whole.api_prefix = "/nowhere/"  # every request through MIDDLEWARE
    created = through(lean, "POST", "/api/v1/scenarios", two_nodes)
    scenario = json.loads(created["body"])
    public_id, token = scenario["id"], scenario["edit_token"]
    assert (
        through(lean, "POST", f"/api/v1/scenarios/{public_id}/pods", guaranteed_pod("a"), token)["status"]
        == 201
    )
    requests = [
        ("GET", f"/api/v1/scenarios/{public_id}", None, None),
        ("GET", f"/api/v1/scenarios/{public_id}/events?after=0", None, None),
        ("GET", f"/api/v1/scenarios/{public_id}/state", None, None),
        ("GET", f"/api/v1/scenarios/{public_id}/access", None, token),
        ("POST", f"/api/v1/scenarios/{public_id}/pods", guaranteed_pod("b"), None),
        ("POST", f"/api/v1/scenarios/{public_id}/pods", guaranteed_pod("b"), "wrong"),
        ("POST", f"/api/v1/scenarios/{public_id}/pods", guaranteed_pod("a"), token),
        ("DELETE", f"/api/v1/scenarios/{public_id}/pods/nope", None, token),
        ("GET", "/api/v1/scenarios/nope", None, None),
    ]
    for method, path, body, auth in requests:
        fast, slow = through(lean, method, path, body, auth), through(whole, method, path, body, auth)
        assert fast["status"] == slow["status"], path
        assert fast["headers"] == slow["headers"], (path, fast["headers"], slow["headers"])
        assert fast["body"] == slow["body"], path
    admitted = [through(handler, "POST", f"/api/v1/scenarios/{public_id}/pods", guaranteed_pod(name), token)
                for handler, name in ((lean, "c"), (whole, "d"))]  # fmt: skip
    assert [response["status"] for response in admitted] == [201, 201]
    names = [
        sorted(name for name, _ in response["headers"] if name.lower() != b"content-length")
        for response in admitted
    ]
    assert names[0] == names[1]
    assert b"x-content-type-options" in [name.lower() for name in names[0]]


@pytest.mark.django_db(transaction=True)
def test_a_large_answer_goes_to_the_server_in_one_message(
    two_nodes: dict[str, Any], pooled_handler: Callable[[], Any]
) -> None:
    from asgiref.testing import ApplicationCommunicator

    handler = pooled_handler()
    big = {
        **two_nodes,
        "machine": {"numa_nodes": [{"id": 0, "memory": "512Gi"}, {"id": 1, "memory": "512Gi"}]},
    }
    scenario = json.loads(through(handler, "POST", "/api/v1/scenarios", big)["body"])
    pods = [guaranteed_pod(f"p{index}", "64Mi") for index in range(60)]
    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http",
        "server": ("localhost", 80),
        "path": f"/api/v1/scenarios/{scenario['id']}/pods", "raw_path": b"", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1),
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {scenario['edit_token']}".encode())],
    }  # fmt: skip

    async def exchange() -> list[dict[str, Any]]:
        communicator = ApplicationCommunicator(handler, scope)
        await communicator.send_input({"type": "http.request", "body": json.dumps(pods).encode()})
        messages = [await communicator.receive_output(30)]
        while messages[-1]["type"] != "http.response.body" or messages[-1].get("more_body"):
            messages.append(await communicator.receive_output(30))
        return messages

    start, *bodies = async_to_sync(exchange)()
    assert start["status"] == 201
    assert len(bodies) == 1 and len(bodies[0]["body"]) > 2**16
    assert len(json.loads(bodies[0]["body"])["outcomes"]) == 60


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("listening", [False, True])
def test_admitted_pods_are_stored_alike_with_or_without_a_pod_receiver(
    two_nodes: dict[str, Any], listening: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db.models.signals import post_save

    heard: list[tuple[str, bool]] = []

    def receiver(sender: Any, instance: Pod, created: bool, **kwargs: Any) -> None:
        heard.append((instance.name, created))

    if listening:
        post_save.connect(receiver, sender=Pod, dispatch_uid="test-pod-receiver")
    made: list[str] = []
    real_admitted_pod = services.admitted_pod
    monkeypatch.setattr(
        services,
        "admitted_pod",
        lambda scenario, event: made.append(event.pod_name) or real_admitted_pod(scenario, event),
    )
    try:
        created = services.create_scenario(two_nodes)
        pods = [guaranteed_pod("fits", "1Gi"), guaranteed_pod("too-big", "64Gi")]
        services.admit_pods(created.scenario.public_id, created.edit_token, pods)
    finally:
        post_save.disconnect(sender=Pod, dispatch_uid="test-pod-receiver")
    stored = list(
        Pod.objects.filter(scenario=created.scenario)
        .order_by("admitted_version")
        .values_list("name", "status", "reason", "admitted_version")
    )
    assert stored[0] == ("fits", "Running", "", 1)
    assert stored[1][:2] == ("too-big", "Failed") and stored[1][2] and stored[1][3] == 2
    assert Pod.objects.get(name="fits", scenario=created.scenario).spec["metadata"]["name"] == "fits"
    assert heard == ([("fits", True), ("too-big", True)] if listening else [])
    assert made == (["fits", "too-big"] if listening else [])  # Pod objects only for a receiver


def test_the_write_queue_hands_out_groups_oldest_first_and_keeps_the_rest() -> None:
    queue = services.WriteQueue()
    requests = [services.PendingWrite(None, lambda scenario, mm: [], 1) for _ in range(5)]
    for request in requests[:3]:
        queue.add("s", request)
    queue.add("other", requests[3])
    assert queue.drain("s", 2) == requests[:2]
    queue.add("s", requests[4])
    assert queue.drain("s", 2) == [requests[2], requests[4]]
    assert queue.drain("s", 2) == [] and queue.drain("other", 2) == [requests[3]]
