"""The read-only websocket of a scenario (docs/CONTRACTS.md section 4), driven by WebsocketCommunicator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections

from playground import consumers, fanout, hub, services
from playground.asgi import application
from playground.layers import SharedMessageInMemoryChannelLayer
from tests.playground.conftest import guaranteed_pod, machine_doc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def close_thread_connections() -> AsyncIterator[None]:
    """``database_sync_to_async`` runs the tests' and the consumers' queries on asgiref's shared thread,
    whose connection outlives the test (CONN_MAX_AGE): PostgreSQL then refuses to drop the test database
    at the end of the run ("being accessed by other users")."""
    yield
    await database_sync_to_async(connections.close_all)()


# The validator captured ALLOWED_HOSTS at import, before pytest-django added "testserver".
ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


@database_sync_to_async
def new_scenario() -> tuple[str, str]:
    created = services.create_scenario(machine_doc("4Gi", "4Gi"))
    return created.scenario.public_id, created.edit_token


@database_sync_to_async
def admit(public_id: str, token: str, *names: str) -> services.Applied:
    return services.admit_pods(public_id, token, [guaranteed_pod(name, "512Mi") for name in names])


async def connect(public_id: str, query: str = "", headers: list[tuple[bytes, bytes]] = ORIGIN) -> Any:
    communicator = WebsocketCommunicator(application, f"/ws/scenarios/{public_id}/{query}", headers=headers)
    # A generous timeout: the first connection of a run pays for cold imports on a loaded machine.
    connected, _ = await communicator.connect(timeout=10)
    return communicator, connected


async def receive_messages(communicator: Any, count: int, timeout: float = 1) -> list[dict[str, Any]]:
    """The next ``count`` messages, a batch frame counting as the messages it holds (section 4)."""
    messages: list[dict[str, Any]] = []
    while len(messages) < count:
        frame = await communicator.receive_json_from(timeout=timeout)
        messages.extend(frame["messages"] if frame["type"] == "batch" else [frame])
    assert len(messages) == count, "a batch went past the messages expected"
    return messages


async def test_it_sends_a_snapshot_on_connect() -> None:
    public_id, token = await new_scenario()
    await admit(public_id, token, "a")
    communicator, connected = await connect(public_id, "?version=0")
    assert connected
    message = await communicator.receive_json_from()
    assert message["type"] == "snapshot" and message["version"] == 1
    scenario = message["scenario"]
    assert scenario["id"] == public_id and [pod["name"] for pod in scenario["pods"]] == ["a"]
    assert scenario["share_url"] == f"http://localhost/s/{public_id}/"
    await communicator.disconnect()


def apply_delta(view: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """What the page does with an event message (static/playground/js/scenario.js, applyDelta)."""
    if "scenario" in message:
        return message["scenario"]
    delta = message["delta"]
    assert message["version"] == view["version"] + 1
    added = delta["pods_added"]
    dropped = set(delta["pods_removed"]) | {pod["name"] for pod in added}
    blocks = delta["containers"]
    pods = []
    for pod in view["pods"]:
        if pod["name"] in dropped:
            continue
        if delta["containers_complete"]:
            pod = {**pod, "containers": blocks.get(pod["uid"], {})}
        elif pod["uid"] in blocks:
            pod = {**pod, "containers": blocks[pod["uid"]]}
        pods.append(pod)
    changed = {"state": delta["state"], "numa_groups": delta["numa_groups"], "pods": pods + added}
    return {**view, "version": message["version"], **changed}


@database_sync_to_async
def api_view(public_id: str) -> dict[str, Any]:
    return services.scenario_view(services.get_scenario(public_id), "http://localhost")


LIVE_KEYS = ("version", "state", "numa_groups", "pods")


async def test_events_carry_a_delta_that_keeps_the_view_whole() -> None:
    """Applying each event's delta to the snapshot gives, at every version, the view the API shows:
    added and removed pods, a rejected pod's partial blocks and their removal at the next admission."""
    created = await database_sync_to_async(services.create_scenario)(
        {**machine_doc("4Gi", "4Gi", policy="single-numa-node"), "name": "delta"}
    )
    public_id, token = created.scenario.public_id, created.edit_token
    communicator, _ = await connect(public_id)
    view = (await communicator.receive_json_from())["scenario"]
    steps = [
        lambda: admit(public_id, token, "a"),
        # Three 1536Mi containers fit on no single node together: rejected, possibly with partial blocks.
        lambda: database_sync_to_async(services.admit_pods)(
            public_id, token, [guaranteed_pod("wide", "1536Mi", containers=3)]
        ),
        lambda: admit(public_id, token, "b"),
        lambda: database_sync_to_async(services.remove_pod)(public_id, token, "a"),
        lambda: admit(public_id, token, "c"),
    ]
    for step in steps:
        await step()
        message = await communicator.receive_json_from()
        assert message["type"] == "event" and "scenario" not in message
        assert "checkpoint" not in message["event"]["outcome"]  # the light outcome
        view = apply_delta(view, message)
        expected = await api_view(public_id)
        assert {key: view[key] for key in LIVE_KEYS} == {key: expected[key] for key in LIVE_KEYS}
    assert [pod["name"] for pod in view["pods"]] == ["wide", "b", "c"]
    await communicator.disconnect()


async def test_a_request_of_several_pods_reaches_a_viewer_as_one_batch_of_its_events() -> None:
    """Section 4's batch frame: each message exactly as it would have gone alone, in version order."""
    public_id, token = await new_scenario()
    communicator, _ = await connect(public_id)
    view = (await communicator.receive_json_from())["scenario"]
    await admit(public_id, token, "a", "b", "c")
    text = await communicator.receive_from()
    frame = json.loads(text)
    if isinstance(get_channel_layer(), SharedMessageInMemoryChannelLayer):
        # One write's broadcasts reach the hub in one turn of the loop (Redis may deliver them apart).
        assert text.startswith('{"type":"batch","messages":[{"type":"event","version":1,"event":{')
        assert len(frame["messages"]) == 3
    messages = frame["messages"] if frame["type"] == "batch" else [frame]
    messages += await receive_messages(communicator, 3 - len(messages))
    assert [(m["version"], m["event"]["pod_name"]) for m in messages] == [(1, "a"), (2, "b"), (3, "c")]
    for message in messages:
        assert message["type"] == "event" and "delta" in message
        view = apply_delta(view, message)
    expected = await api_view(public_id)
    assert {key: view[key] for key in LIVE_KEYS} == {key: expected[key] for key in LIVE_KEYS}
    await communicator.disconnect()


async def test_a_delta_after_a_version_this_process_did_not_send_names_every_pods_blocks() -> None:
    public_id, token = await new_scenario()
    communicator, _ = await connect(public_id)
    view = (await communicator.receive_json_from())["scenario"]
    await admit(public_id, token, "a")
    view = apply_delta(view, await communicator.receive_json_from())
    fanout.last_entries.entries.clear()  # as if another process had written the version before
    await admit(public_id, token, "b")
    message = await communicator.receive_json_from()
    assert message["delta"]["containers_complete"] is True
    assert set(message["delta"]["containers"]) == {view["pods"][0]["uid"]}  # b's blocks are in its pod
    view = apply_delta(view, message)
    expected = await api_view(public_id)
    assert {key: view[key] for key in LIVE_KEYS} == {key: expected[key] for key in LIVE_KEYS}
    await communicator.disconnect()


async def test_a_restart_is_sent_with_the_whole_view() -> None:
    public_id, token = await new_scenario()
    communicator, _ = await connect(public_id)
    await communicator.receive_json_from()
    await admit(public_id, token, "a")
    await communicator.receive_json_from()
    await database_sync_to_async(services.restart)(public_id, token)
    message = await communicator.receive_json_from()
    assert message["type"] == "event" and message["event"]["op"] == "restart" and "delta" not in message
    expected = await api_view(public_id)
    assert message["scenario"] == expected and message["scenario"]["version"] == 2


async def test_it_answers_a_resync_with_a_snapshot_and_stays_read_only() -> None:
    public_id, _token = await new_scenario()
    communicator, _ = await connect(public_id)
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "admit", "pod": guaranteed_pod("sneaky")})
    assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.send_json_to({"type": "resync", "version": 0})
    snapshot = await communicator.receive_json_from()
    assert snapshot["type"] == "snapshot" and snapshot["scenario"]["pods"] == []
    await communicator.disconnect()


async def held_broadcasts(monkeypatch: pytest.MonkeyPatch, public_id: str, token: str) -> list[Any]:
    """Two admissions whose group messages are built but not sent."""
    held: list[dict[str, Any]] = []

    def hold(public_id: str, events: list[dict[str, Any]]) -> None:
        held.extend(fanout.group_message(public_id, event) for event in events)

    monkeypatch.setattr(services, "broadcast", hold)
    await admit(public_id, token, "a")
    await admit(public_id, token, "b")
    return held


async def test_it_puts_out_of_order_events_back_in_order_and_drops_stale_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two writers' broadcasts can arrive out of order: the client still gets every version once, in order."""
    public_id, token = await new_scenario()
    communicator, _ = await connect(public_id)
    await communicator.receive_json_from()
    message_1, message_2 = await held_broadcasts(monkeypatch, public_id, token)
    layer = get_channel_layer()
    group = services.group_name(public_id)
    await layer.group_send(group, message_2)
    await layer.group_send(group, message_1)
    got = await receive_messages(communicator, 2)
    assert [(m["version"], m["event"]["pod_name"]) for m in got] == [(1, "a"), (2, "b")]
    await layer.group_send(group, message_1)
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_a_gap_that_stays_open_is_filled_from_the_event_log(monkeypatch: pytest.MonkeyPatch) -> None:
    public_id, token = await new_scenario()
    communicator, _ = await connect(public_id)
    view = (await communicator.receive_json_from())["scenario"]
    message_1, message_2 = await held_broadcasts(monkeypatch, public_id, token)
    layer = get_channel_layer()
    await layer.group_send(services.group_name(public_id), message_2)  # version 1's broadcast never comes
    assert await communicator.receive_nothing(timeout=hub.GAP_WAIT_SECONDS / 2)
    got = await receive_messages(communicator, 2, timeout=2)
    assert [(m["type"], m["version"], m["event"]["pod_name"]) for m in got] == [
        ("event", 1, "a"),
        ("event", 2, "b"),
    ]
    for message in got:
        view = apply_delta(view, message)
    expected = await api_view(public_id)
    assert {key: view[key] for key in LIVE_KEYS} == {key: expected[key] for key in LIVE_KEYS}
    await layer.group_send(services.group_name(public_id), message_1)
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_a_gap_the_log_cannot_fill_is_closed_with_a_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    public_id, token = await new_scenario()
    communicator, _ = await connect(public_id)
    await communicator.receive_json_from()
    _message_1, message_2 = await held_broadcasts(monkeypatch, public_id, token)

    async def nothing(public_id: str, after: int, upto: int) -> list[dict[str, Any]]:
        return []

    monkeypatch.setattr(hub, "filled_messages", nothing)
    await get_channel_layer().group_send(services.group_name(public_id), message_2)
    snapshot = await communicator.receive_json_from(timeout=2)
    assert snapshot["type"] == "snapshot" and snapshot["version"] == 2
    assert [pod["name"] for pod in snapshot["scenario"]["pods"]] == ["a", "b"]
    await communicator.disconnect()


async def test_concurrent_snapshots_share_view_reads_and_miss_no_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    public_id, token = await new_scenario()
    reads: list[int] = []
    real_load_view = consumers.load_view

    def counting(public_id: str) -> dict[str, Any] | None:
        view = real_load_view(public_id)
        reads.append(view["version"] if view else -1)
        return view

    monkeypatch.setattr(consumers, "load_view", counting)
    cache = consumers.ViewCache()
    cache.watch(public_id)
    early = await asyncio.gather(*(cache.fresh(public_id) for _ in range(5)))
    await admit(public_id, token, "a")
    late = await asyncio.gather(*(cache.fresh(public_id) for _ in range(5)))
    assert reads == [0, 1], "five callers at a time share one read"
    assert [view["version"] for view in early + late] == [0] * 5 + [1] * 5


async def test_an_unknown_scenario_closes_with_4404() -> None:
    communicator, connected = await connect("nope")
    assert connected
    assert (await communicator.receive_output())["code"] == services_close_code()
    await communicator.wait()


def services_close_code() -> int:
    from playground.consumers import CLOSE_NOT_FOUND

    return CLOSE_NOT_FOUND


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(b"origin", b"http://evil.example")], id="a foreign origin"),
        pytest.param([], id="no origin"),
    ],
)
async def test_it_refuses_other_origins(headers: list[tuple[bytes, bytes]]) -> None:
    public_id, _ = await new_scenario()
    communicator, connected = await connect(public_id, headers=headers)
    assert not connected
    await communicator.disconnect()
