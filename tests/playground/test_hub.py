"""The per-process fan-out hub of a scenario's viewers (playground/hub.py, docs/CONTRACTS.md section 4).

Most tests drive a hub through the real in-memory channel layer with recording sockets and a stand-in
view cache; the Daphne seam (playground/wire.py) is tested with a stand-in autobahn protocol and, at the
end, in a real Daphne process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import multiprocessing
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from autobahn.websocket.protocol import PreparedMessage
from channels.layers import get_channel_layer
from websockets.sync.client import connect

from playground import hub, services, wire
from playground.layers import SharedMessageInMemoryChannelLayer
from tests.playground.conftest import guaranteed_pod, machine_doc

PUBLIC_ID = "hubtest"
BASE_URL = "http://testserver"
VIEW = {"id": PUBLIC_ID, "version": 3, "share_url": f"/s/{PUBLIC_ID}/", "pods": []}


def text_message(version: int) -> dict[str, Any]:
    """A group message as ``fanout.group_message`` builds it for a step with a delta."""
    body = {"type": "event", "version": version, "event": {"version": version, "pod_name": f"p{version}"}}
    return {"type": "scenario.event", "version": version, "text": json.dumps({**body, "delta": {}})}


def view_message(version: int) -> dict[str, Any]:
    """A group message for a step without a delta (a restart)."""
    return {"type": "scenario.event", "version": version, "event": {"version": version, "op": "restart"}}


class StandInViews:
    """``ViewCache`` as the hub uses it, serving one fixed view."""

    def __init__(self, view: dict[str, Any]) -> None:
        self.view = view

    async def fresh(self, public_id: str) -> dict[str, Any] | None:
        return self.view

    async def at_least(self, public_id: str, version: int) -> dict[str, Any] | None:
        return self.view


class Recorder:
    """A socket's far end: the text of every frame the hub wrote to it, in order."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.resyncs = 0
        self.gate: asyncio.Event | None = None  # when set up, each send waits for it (a busy socket)

    async def send(self, message: dict[str, Any]) -> None:
        assert message["type"] == "websocket.send"
        if self.gate is not None:
            await self.gate.wait()
        self.frames.append(message["text"])

    async def resync(self) -> None:
        self.resyncs += 1


async def eventually(condition: Callable[[], bool], timeout: float = 2) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def viewer(recorder: Recorder, views: StandInViews, snapshot: int | None = 0) -> tuple[hub.Hub, Any]:
    """A socket joined to the scenario's hub and, unless ``snapshot`` is None, sent its snapshot."""
    socket = hub.Socket(recorder.send, BASE_URL, recorder.resync)
    joined = await hub.join(PUBLIC_ID, socket, views)
    if snapshot is not None:
        assert await joined.deliver_snapshot(socket, snapshot, wire.Frame(f"snapshot {snapshot}"))
    return joined, socket


def texts(*versions: int) -> list[str]:
    return [text_message(version)["text"] for version in versions]


def batch(*versions: int) -> str:
    return '{"type":"batch","messages":[' + ",".join(texts(*versions)) + "]}"


@pytest.fixture
async def views() -> AsyncIterator[StandInViews]:
    hub.hubs.pop(PUBLIC_ID, None)  # one another test's loop left behind (join replaces it anyway)
    yield StandInViews(VIEW)
    running = hub.hubs.get(PUBLIC_ID)
    if running is not None and running.loop is asyncio.get_running_loop():
        for socket in list(running.sockets):  # every socket leaves: the hub stops, in this test's loop
            await hub.leave(running, socket)


async def test_one_group_membership_per_process_whatever_the_number_of_viewers(
    views: StandInViews, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = get_channel_layer()
    group = services.group_name(PUBLIC_ID)
    calls: list[tuple[str, str, str]] = []
    for name in ("group_add", "group_discard"):
        real = getattr(layer, name)

        async def recording(group: str, channel: str, name: str = name, real: Any = real) -> None:
            calls.append((name, group, channel))
            await real(group, channel)

        monkeypatch.setattr(layer, name, recording)
    joined = [await viewer(Recorder(), views) for _ in range(3)]
    assert len({running for running, _ in joined}) == 1
    channel = joined[0][0].channel
    assert calls == [("group_add", group, channel)], "the hub joined once, the sockets not at all"
    await layer.group_send(group, text_message(1))  # the one membership reaches every socket
    await eventually(lambda: all(socket.version == 1 for _, socket in joined))
    for running, socket in joined:
        await hub.leave(running, socket)
    assert calls[1:] == [("group_discard", group, channel)], "the last viewer out leaves the group"
    assert PUBLIC_ID not in hub.hubs


async def test_a_single_event_goes_as_it_is_and_a_burst_as_one_batch_frame(views: StandInViews) -> None:
    recorders = [Recorder(), Recorder()]
    for recorder in recorders:
        await viewer(recorder, views)
    layer = get_channel_layer()
    await layer.group_send(services.group_name(PUBLIC_ID), text_message(1))
    await eventually(lambda: all(len(r.frames) == 2 for r in recorders))
    running = hub.hubs[PUBLIC_ID]
    for version in (2, 3, 4):  # three broadcasts received before the sender gets to run: one frame
        running.receive(text_message(version))
    await eventually(lambda: all(len(r.frames) == 3 for r in recorders))
    for recorder in recorders:
        assert recorder.frames == ["snapshot 0", *texts(1), batch(2, 3, 4)]
        assert json.loads(recorder.frames[2])["messages"] == [json.loads(text) for text in texts(2, 3, 4)]


async def test_events_arriving_while_the_sender_is_busy_go_next_as_one_batch(views: StandInViews) -> None:
    recorder = Recorder()
    running, _ = await viewer(recorder, views)
    recorder.gate = asyncio.Event()
    running.receive(text_message(1))
    await asyncio.sleep(0.02)  # the sender is now stuck writing version 1
    for version in (2, 3):
        running.receive(text_message(version))
        await asyncio.sleep(0.01)
    recorder.gate.set()
    await eventually(lambda: len(recorder.frames) == 3)
    assert recorder.frames == ["snapshot 0", *texts(1), batch(2, 3)]


async def test_a_socket_a_snapshot_took_further_while_the_sender_waited_is_not_sent_it_again(
    views: StandInViews, caplog: pytest.LogCaptureFixture
) -> None:
    busy, other = Recorder(), Recorder()
    running, _ = await viewer(busy, views)
    _, other_socket = await viewer(other, views)
    busy.gate = asyncio.Event()
    running.receive(text_message(1))
    await asyncio.sleep(0.02)  # the sender waits on the first socket, the second one's turn to come
    assert await running.deliver_snapshot(other_socket, 1, wire.Frame("snapshot 1"))  # a resync
    busy.gate.set()
    await eventually(lambda: len(busy.frames) == 2)
    await asyncio.sleep(0.02)
    assert busy.frames == ["snapshot 0", *texts(1)]
    assert other.frames == ["snapshot 0", "snapshot 1"]
    assert not [record for record in caplog.records if record.name == "playground.hub"]


async def test_a_socket_whose_write_fails_does_not_keep_the_others_from_their_event(
    views: StandInViews,
) -> None:
    broken, fine = Recorder(), Recorder()
    running, _ = await viewer(broken, views)
    await viewer(fine, views)

    async def failing(message: dict[str, Any]) -> None:
        raise RuntimeError("the socket went away")

    next(iter(running.sockets)).send = failing  # the first socket, broken's
    running.receive(text_message(1))
    await eventually(lambda: fine.frames == ["snapshot 0", *texts(1)])


async def test_a_batch_is_capped(views: StandInViews, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "BATCH_MAX_MESSAGES", 2)
    recorder = Recorder()
    running, _ = await viewer(recorder, views)
    for version in range(1, 6):
        running.receive(text_message(version))
    await eventually(lambda: len(recorder.frames) == 4)
    assert recorder.frames[1:] == [batch(1, 2), batch(3, 4), *texts(5)]


async def test_each_socket_gets_only_what_follows_its_own_version(views: StandInViews) -> None:
    behind, ahead, further = Recorder(), Recorder(), Recorder()
    running, _ = await viewer(behind, views, snapshot=0)
    await viewer(ahead, views, snapshot=2)  # its snapshot was read after versions 1 and 2
    await viewer(further, views, snapshot=5)
    for version in (4, 2, 3, 1):  # out of order: handed on in order
        running.receive(text_message(version))
    await eventually(lambda: len(behind.frames) == 2 and len(ahead.frames) == 2)
    assert behind.frames[1] == batch(1, 2, 3, 4)
    assert ahead.frames[1] == batch(3, 4)
    running.receive(text_message(5))
    running.receive(text_message(6))
    await eventually(lambda: len(further.frames) == 2)
    assert further.frames == ["snapshot 5", *texts(6)]
    assert behind.frames[2:] == [batch(5, 6)]


async def test_a_step_without_a_delta_ends_the_batch_and_goes_alone_with_the_view(
    views: StandInViews,
) -> None:
    recorder = Recorder()
    running, _ = await viewer(recorder, views)
    for message in (text_message(1), text_message(2), view_message(3), text_message(4)):
        running.receive(message)
    await eventually(lambda: len(recorder.frames) == 4)
    assert recorder.frames[1] == batch(1, 2)
    restart = json.loads(recorder.frames[2])
    assert restart == {
        "type": "event",
        "version": 3,
        "event": view_message(3)["event"],
        "scenario": {**VIEW, "share_url": f"{BASE_URL}/s/{PUBLIC_ID}/"},
    }
    assert recorder.frames[3] == texts(4)[0]


async def test_a_snapshot_older_than_what_the_hub_sent_catches_up_from_its_history(
    views: StandInViews, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Recorder()
    running, _ = await viewer(first, views)
    for version in (1, 2, 3):
        running.receive(text_message(version))
    await eventually(lambda: len(first.frames) == 2)
    late = Recorder()
    await viewer(late, views, snapshot=1)  # read before versions 2 and 3 reached the hub's sockets
    assert late.frames == ["snapshot 1", batch(2, 3)]
    running.receive(text_message(4))
    await eventually(lambda: len(late.frames) == 3 and len(first.frames) == 3)
    assert late.frames[2] == first.frames[2] == texts(4)[0]

    monkeypatch.setattr(hub, "HISTORY_SIZE", 1)
    for version in (5, 6):
        running.receive(text_message(version))
    await eventually(lambda: len(first.frames) == 4)
    stale = Recorder()
    _, socket = await viewer(stale, views, snapshot=None)
    assert not await running.deliver_snapshot(socket, 4, wire.Frame("snapshot 4")), (
        "version 5 is no longer held"
    )
    assert stale.frames == []
    assert await running.deliver_snapshot(socket, 6, wire.Frame("snapshot 6"))
    assert stale.frames == ["snapshot 6"]


# --- the Daphne seam (playground/wire.py) ---------------------------------------------------------


class StandInFactory:
    def __init__(self) -> None:
        self.prepared = 0

    def prepareMessage(self, payload: bytes) -> PreparedMessage:
        self.prepared += 1
        return PreparedMessage(payload, False, False, False)


class StandInTransport:
    """Not a Twisted TCP connection: the protocol's own ``sendPreparedMessage`` writes."""

    def __init__(self) -> None:
        self._tempDataLen = 0
        self.dataBuffer = b""
        self.offset = 0


class StandInProtocol:
    """The autobahn protocol behind a Daphne socket, as far as the seam touches it."""

    STATE_OPEN = 3

    def __init__(self, factory: StandInFactory) -> None:
        self.factory = factory
        self.state = self.STATE_OPEN
        self.transport = StandInTransport()
        self.send_queue: deque[Any] = deque()
        self._perMessageCompress = None
        self.written: list[PreparedMessage] = []

    def sendPreparedMessage(self, prepared: PreparedMessage) -> None:
        self.written.append(prepared)


class StandInServer:
    """Daphne's server: ``handle_reply`` is what channels' ``send`` ends in."""

    def __init__(self) -> None:
        self.connections: dict[Any, dict[str, Any]] = {}
        self.replies: list[tuple[Any, dict[str, Any]]] = []

    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        self.replies.append((protocol, message))


async def test_daphne_sockets_share_one_prepared_frame_and_others_take_the_ordinary_send(
    views: StandInViews,
) -> None:
    factory, server = StandInFactory(), StandInServer()
    protocols = [StandInProtocol(factory) for _ in range(3)]
    for protocol in protocols:
        server.connections[protocol] = {}
    sockets = []
    for protocol in protocols:
        send = functools.partial(server.handle_reply, protocol)
        assert wire.daphne_protocol(send) is protocol
        sockets.append(hub.Socket(send, BASE_URL, Recorder().resync))
    plain = Recorder()
    assert wire.daphne_protocol(plain.send) is None
    sockets.append(hub.Socket(plain.send, BASE_URL, plain.resync))
    running = None
    snapshot = wire.Frame("snapshot 0")  # the consumers share one per version (consumers.encoded_texts)
    for socket in sockets:
        running = await hub.join(PUBLIC_ID, socket, views)
        assert await running.deliver_snapshot(socket, 0, snapshot)
    assert running is not None
    protocols[2].state = 4  # closing: nothing more is written to it
    running.receive(text_message(1))
    await eventually(lambda: len(plain.frames) == 2)
    frame_1 = protocols[0].written[-1]
    assert protocols[1].written[-1] is frame_1, "framed once for every Daphne socket"
    assert frame_1.payloadHybi.endswith(texts(1)[0].encode())
    assert plain.frames[-1] == texts(1)[0]
    assert len(protocols[2].written) == 1 and server.replies == [], "the closing socket got nothing more"
    assert factory.prepared == 2, "one snapshot frame, one event frame"


async def test_a_slow_daphne_socket_is_skipped_then_resynchronised_once_drained(
    views: StandInViews, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub, "DRAIN_POLL_SECONDS", 0.01)
    factory, server = StandInFactory(), StandInServer()
    fast, slow = StandInProtocol(factory), StandInProtocol(factory)
    resyncs = {"slow": 0}
    snapshot = wire.Frame("snapshot 0")
    sockets = {}
    for name, protocol in (("fast", fast), ("slow", slow)):
        server.connections[protocol] = {}

        async def resync(name: str = name) -> None:
            resyncs[name] = resyncs.get(name, 0) + 1

        sockets[name] = hub.Socket(functools.partial(server.handle_reply, protocol), BASE_URL, resync)
        running = await hub.join(PUBLIC_ID, sockets[name], views)
        assert await running.deliver_snapshot(sockets[name], 0, snapshot)
    slow.transport._tempDataLen = wire.SLOW_SOCKET_BYTES + 1  # a reader that stopped reading
    running.receive(text_message(1))
    running.receive(text_message(2))
    await eventually(lambda: len(fast.written) == 2)
    await asyncio.sleep(0.05)
    assert len(slow.written) == 1 and sockets["slow"].lagging and resyncs["slow"] == 0
    slow.transport._tempDataLen = 0  # it drained
    await eventually(lambda: resyncs["slow"] == 1)
    assert not sockets["slow"].lagging


# --- a real Daphne process ------------------------------------------------------------------------


def live_app() -> Any:
    from playground.asgi import application

    return application


def counting_setup(counter: Any) -> None:
    """In the server process: the executor and layers copied from the test process dropped (as the
    browser tests' server does), and every frame written through the prepared path counted."""
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync
    from channels.layers import channel_layers

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    channel_layers.backends = {}
    real = wire.write_prepared

    def counted(send: Any, protocol: Any, frame: wire.Frame) -> bool:
        written = real(send, protocol, frame)
        if written:
            with counter.get_lock():
                counter.value += 1
        return written

    wire.write_prepared = counted


@pytest.fixture(scope="module")
def daphne(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[str, Any]]:
    from daphne.testing import DaphneProcess
    from django.db import connections

    counter = multiprocessing.Value("i", 0)
    server = DaphneProcess("127.0.0.1", live_app, setup=functools.partial(counting_setup, counter))
    with django_db_blocker.unblock():
        connections.close_all()
        server.start()
    if not server.ready.wait(timeout=15):
        raise RuntimeError("daphne did not start")
    yield f"http://127.0.0.1:{server.port.value}", counter
    server.terminate()
    server.join(timeout=10)


def received(viewer: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` messages of a viewer, batches taken apart."""
    messages: list[dict[str, Any]] = []
    while len(messages) < count:
        frame = json.loads(viewer.recv(timeout=10))
        messages.extend(frame["messages"] if frame["type"] == "batch" else [frame])
    assert len(messages) == count
    return messages


@pytest.mark.django_db(transaction=True)
def test_in_daphne_every_frame_goes_through_the_prepared_path(daphne: tuple[str, Any]) -> None:
    url, counter = daphne
    created = httpx.post(f"{url}/api/v1/scenarios", json=machine_doc("8Gi", "8Gi"), timeout=30).json()
    public_id, token = created["id"], created["edit_token"]
    headers = {"Authorization": f"Bearer {token}"}
    ws_url = url.replace("http", "ws", 1) + f"/ws/scenarios/{public_id}/"
    before = counter.value
    frames = 0
    with contextlib.ExitStack() as stack:
        viewers = [stack.enter_context(connect(ws_url, origin=url, open_timeout=10)) for _ in range(3)]
        snapshots = [v.recv(timeout=10) for v in viewers]
        assert len(set(snapshots)) == 1 and json.loads(snapshots[0])["type"] == "snapshot"
        response = httpx.post(
            f"{url}/api/v1/scenarios/{public_id}/pods", json=guaranteed_pod("one", "256Mi"), headers=headers
        )
        assert response.status_code == 201, response.text
        singles = [v.recv(timeout=10) for v in viewers]
        assert len(set(singles)) == 1 and json.loads(singles[0])["version"] == 1
        pods = [guaranteed_pod(f"many-{index}", "256Mi") for index in range(3)]
        response = httpx.post(f"{url}/api/v1/scenarios/{public_id}/pods", json=pods, headers=headers)
        assert response.status_code == 201, response.text
        in_memory = isinstance(get_channel_layer(), SharedMessageInMemoryChannelLayer)
        for v in viewers:
            if in_memory:  # one write's broadcasts reach the hub at once: one batch frame
                frame = json.loads(v.recv(timeout=10))
                assert frame["type"] == "batch"
                messages = frame["messages"]
            else:
                messages = received(v, 3)
            assert [(m["version"], m["event"]["pod_name"]) for m in messages] == [
                (2, "many-0"),
                (3, "many-1"),
                (4, "many-2"),
            ]
        frames = counter.value - before
    # Snapshot, one event, and the three events of one request in one to three frames, per socket.
    assert 3 * 3 <= frames <= 3 * 5, "every frame written through the prepared path"
    if in_memory:
        assert frames == 3 * 3
