"""The live feed of one scenario: a read-only websocket (docs/CONTRACTS.md section 4).

On connect the client gets a ``snapshot`` (whatever ``?version=N`` it says it holds: the snapshot is
what makes a reconnecting client whole); after every committed change an ``event``; ``{"type":
"resync"}`` from the client gets a fresh snapshot. Events reach every process through the channel
layer group ``scenario.<id>``, most already encoded as the small event-and-delta text of
``playground.fanout``, which every socket sends as it is. This consumer hands them on in version order:
two writers' broadcasts can arrive out of order, so a message after a gap waits briefly for the
missing one, then reads it from the event log (a delta needs its predecessor); failing that, a snapshot.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from playground import fanout, metrics, services

CLOSE_NOT_FOUND = 4404


def base_url(scope: dict[str, Any]) -> str:
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host", b"").decode("latin-1")
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    return f"{scheme}://{host}" if host else ""


def load_view(public_id: str) -> dict[str, Any] | None:
    """The scenario view with a host-relative share_url, or None if the scenario does not exist."""
    try:
        return services.scenario_view(services.get_scenario(public_id))
    except services.NotFound:
        return None


class ViewCache:
    """The newest scenario view this process has built, per watched scenario.

    Broadcasts carry only the event; the view that goes with it is built here at most once per
    version however many sockets watch the scenario, and never for a scenario nobody watches.
    """

    def __init__(self) -> None:
        self.views: dict[str, dict[str, Any]] = {}
        self.watchers: dict[str, int] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.reading: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self.queued: dict[str, asyncio.Future[dict[str, Any] | None]] = {}

    def watch(self, public_id: str) -> None:
        self.watchers[public_id] = self.watchers.get(public_id, 0) + 1

    def unwatch(self, public_id: str) -> None:
        self.watchers[public_id] = self.watchers.get(public_id, 1) - 1
        if self.watchers[public_id] <= 0:
            for table in (self.watchers, self.views, self.locks):
                table.pop(public_id, None)

    async def fresh(self, public_id: str) -> dict[str, Any] | None:
        """A view read from the database after this call began.

        Callers share reads: a caller joins the read queued to start next, or queues one that starts
        when the read in flight (begun too early for it) ends. A hundred viewers connecting at once
        cost two view builds, not a hundred, and none of them misses a change committed before it asked.
        """
        queued = self.queued.get(public_id)
        if queued is None:
            queued = asyncio.ensure_future(self.read_next(public_id, self.reading.get(public_id)))
            self.queued[public_id] = queued
        return await asyncio.shield(queued)

    async def read_next(
        self, public_id: str, before: asyncio.Future[dict[str, Any] | None] | None
    ) -> dict[str, Any] | None:
        if before is not None:
            await asyncio.wait([before])
        me = asyncio.current_task()
        if self.queued.get(public_id) is me:
            del self.queued[public_id]  # from now on, new callers queue behind this read
        self.reading[public_id] = me  # type: ignore[assignment]
        try:
            view = await database_sync_to_async(load_view)(public_id)
        finally:
            if self.reading.get(public_id) is me:
                del self.reading[public_id]
        self.keep(public_id, view)
        return view

    async def at_least(self, public_id: str, version: int) -> dict[str, Any] | None:
        """A view of ``version`` or newer, built only if the cached one is older."""
        view = self.views.get(public_id)
        if view is not None and view["version"] >= version:
            return view
        async with self.locks.setdefault(public_id, asyncio.Lock()):
            view = self.views.get(public_id)
            if view is not None and view["version"] >= version:
                return view
            return await self.fresh(public_id)

    def keep(self, public_id: str, view: dict[str, Any] | None) -> None:
        if view is None or public_id not in self.watchers:
            return
        cached = self.views.get(public_id)
        if cached is None or cached["version"] <= view["version"]:
            self.views[public_id] = view


views = ViewCache()


class EncodedTexts:
    """The last few messages as sent, so a hundred viewers cost one JSON encoding, not a hundred."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.texts: OrderedDict[tuple[str, str, int, str], str] = OrderedDict()

    def get(self, key: tuple[str, str, int, str]) -> str | None:
        return self.texts.get(key)

    def put(self, key: tuple[str, str, int, str], text: str) -> None:
        self.texts[key] = text
        while len(self.texts) > self.size:
            self.texts.popitem(last=False)


encoded_texts = EncodedTexts(64)

# How long a message that arrived after a gap waits for the missing ones before they are read from the log.
GAP_WAIT_SECONDS = 0.1

# Group messages rebuilt from the event log for a gap, per (scenario, version): once per process.
filled: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
FILLED_SIZE = 256


async def filled_messages(public_id: str, after: int, upto: int) -> list[dict[str, Any]]:
    """The group messages of versions ``after + 1 .. upto - 1`` as ``services.broadcast`` would have sent
    them, from the event log."""
    wanted = range(after + 1, upto)
    if any((public_id, version) not in filled for version in wanted):
        try:
            events = await database_sync_to_async(services.events_after)(public_id, after, len(wanted))
        except services.NotFound:
            return []
        for event in events:
            filled[(public_id, event["version"])] = fanout.group_message(public_id, event)
        while len(filled) > FILLED_SIZE:
            filled.popitem(last=False)
    return [filled[(public_id, version)] for version in wanted if (public_id, version) in filled]


class ScenarioConsumer(AsyncJsonWebsocketConsumer):
    """Read-only: clients receive snapshots and events; the only message they may send is resync."""

    public_id: str
    version: int

    async def connect(self) -> None:
        self.public_id = self.scope["url_route"]["kwargs"]["public_id"]
        self.version = -1
        self.base_url = base_url(self.scope)
        self.pending: dict[int, dict[str, Any]] = {}
        self.gap_timer: asyncio.Task[None] | None = None
        views.watch(self.public_id)
        metrics.websocket_connected()
        # Join before reading, so no change can fall between the snapshot and the first event.
        await self.channel_layer.group_add(services.group_name(self.public_id), self.channel_name)
        await self.accept()
        if not await self.send_snapshot():
            await self.close(code=CLOSE_NOT_FOUND)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """``AsyncConsumer.dispatch`` without its ``close_old_connections`` hop for group events.

        channels runs ``close_old_connections`` in a worker thread before every handler: for an event
        watched by 100 sockets that is 100 hops through one thread per event, the largest cost of the
        fan-out once the message was small. ``scenario_event`` reaches the database only on a gap, through
        ``database_sync_to_async``, which closes stale connections around its own call.
        """
        if message["type"] == "scenario.event":
            await self.scenario_event(message)
        else:
            await super().dispatch(message)

    async def disconnect(self, code: int) -> None:
        if self.gap_timer is not None:
            self.gap_timer.cancel()
        views.unwatch(self.public_id)
        metrics.websocket_disconnected()
        await self.channel_layer.group_discard(services.group_name(self.public_id), self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        """A frame that is not JSON text gets the read-only answer; the base class would raise and end the
        socket with a traceback in the server log."""
        if text_data is None:
            await self.refuse()
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.refuse()
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            await self.send_snapshot()
        else:
            await self.refuse()

    async def refuse(self) -> None:
        detail = 'This socket is read-only; the only message it takes is {"type": "resync"}.'
        await self.send_json({"type": "error", "detail": detail})

    def with_base_url(self, view: dict[str, Any]) -> dict[str, Any]:
        return {**view, "share_url": self.base_url + view["share_url"]}

    async def send_snapshot(self) -> bool:
        view = await views.fresh(self.public_id)
        if view is None:
            return False
        if view["version"] < self.version:
            return True  # events already took this socket further
        self.version = view["version"]
        self.pending = {version: m for version, m in self.pending.items() if version > self.version}
        await self.send_encoded(
            "snapshot",
            view["version"],
            lambda: {"type": "snapshot", "version": view["version"], "scenario": self.with_base_url(view)},
        )
        await self.flush_pending()
        return True

    async def scenario_event(self, message: dict[str, Any]) -> None:
        """A committed change, from ``services.broadcast`` in any process."""
        version = message["version"]
        if version <= self.version:
            return  # already covered by the snapshot or an earlier event
        self.pending[version] = message
        await self.flush_pending()
        if self.pending and self.gap_timer is None:
            self.gap_timer = asyncio.create_task(self.close_gap())

    async def flush_pending(self) -> None:
        """Send the held messages that follow the socket's version without a gap."""
        while (message := self.pending.pop(self.version + 1, None)) is not None:
            await self.send_event(message)
        if not self.pending and self.gap_timer is not None:
            self.gap_timer.cancel()
            self.gap_timer = None

    async def close_gap(self) -> None:
        """The missing versions did not arrive in time: take them from the event log (they are committed
        before they are broadcast), or, if even that fails, make the socket whole with a snapshot."""
        await asyncio.sleep(GAP_WAIT_SECONDS)
        self.gap_timer = None
        if not self.pending:
            return
        for message in await filled_messages(self.public_id, self.version, max(self.pending)):
            self.pending.setdefault(message["version"], message)
        await self.flush_pending()
        if self.pending:
            await self.send_snapshot()

    async def send_event(self, message: dict[str, Any]) -> None:
        version = message["version"]
        self.version = version
        text = message.get("text")
        if text is not None:
            await self.send(text_data=text)  # encoded once by the writer, for every socket
            return
        # A step without a delta (a restart, a crash): the event with the whole view, built and encoded
        # once per process whatever the number of sockets.
        view = await views.at_least(self.public_id, version)
        if view is None:
            return
        await self.send_encoded(
            "event",
            version,
            lambda: {
                "type": "event",
                "version": version,
                "event": message["event"],
                "scenario": self.with_base_url(view),
            },
        )

    async def send_encoded(self, kind: str, version: int, build: Callable[[], dict[str, Any]]) -> None:
        key = (self.public_id, kind, version, self.base_url)
        text = encoded_texts.get(key)
        if text is None:
            text = await self.encode_json(build())
            encoded_texts.put(key, text)
        await self.send(text_data=text)
