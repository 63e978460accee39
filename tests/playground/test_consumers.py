"""The read-only websocket of a scenario (docs/CONTRACTS.md section 4), driven by WebsocketCommunicator."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from playground import services
from playground.asgi import application
from tests.playground.conftest import guaranteed_pod, machine_doc

pytestmark = pytest.mark.django_db(transaction=True)

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
    connected, _ = await communicator.connect()
    return communicator, connected


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


async def test_it_sends_every_committed_change_as_an_event() -> None:
    public_id, token = await new_scenario()
    communicator, _ = await connect(public_id)
    await communicator.receive_json_from()  # the snapshot
    await admit(public_id, token, "a", "b")
    first, second = await communicator.receive_json_from(), await communicator.receive_json_from()
    assert (first["type"], first["version"], second["version"]) == ("event", 1, 2)
    assert first["event"]["op"] == "admit" and first["event"]["pod_name"] == "a"
    assert first["event"]["outcome"]["admitted"] is True
    assert second["scenario"]["version"] == 2 and len(second["scenario"]["pods"]) == 2
    removed = await database_sync_to_async(services.remove_pod)(public_id, token, "a")
    third = await communicator.receive_json_from()
    assert third["version"] == removed.version == 3 and third["event"]["op"] == "remove"
    assert [pod["name"] for pod in third["scenario"]["pods"]] == ["b"]
    await communicator.disconnect()


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


async def test_it_fills_a_gap_from_the_event_log_and_drops_stale_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two writers' broadcasts can arrive out of order: the client still gets every version once, in order."""
    public_id, token = await new_scenario()
    communicator, _ = await connect(public_id)
    await communicator.receive_json_from()
    held: list[list[dict[str, Any]]] = []
    monkeypatch.setattr(services, "broadcast", lambda _id, events: held.append(events))
    await admit(public_id, token, "a")
    await admit(public_id, token, "b")
    layer = get_channel_layer()
    group = services.group_name(public_id)
    [event_1], [event_2] = held
    await layer.group_send(group, {"type": "scenario.event", "version": 2, "event": event_2})
    got = [await communicator.receive_json_from(), await communicator.receive_json_from()]
    assert [(m["version"], m["event"]["pod_name"]) for m in got] == [(1, "a"), (2, "b")]
    assert got[0]["scenario"]["version"] == got[1]["scenario"]["version"] == 2  # the newest view
    await layer.group_send(group, {"type": "scenario.event", "version": 1, "event": event_1})
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


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
