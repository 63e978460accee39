"""The live feed of one scenario: a read-only websocket (docs/CONTRACTS.md section 4).

On connect the client gets a ``snapshot`` (whatever ``?version=N`` it says it holds: the snapshot is
what makes a reconnecting client whole); after every committed change an ``event`` (several at once
under load: a ``batch``); ``{"type": "resync"}`` from the client gets a fresh snapshot. The events
come from the scenario's hub (``playground.hub``): one per process, subscribed to the channel-layer
group ``scenario.<id>`` for all its sockets, which puts them in version order and writes them to every
socket. The consumer registers its socket with the hub and sends snapshots; it has no channel of its own.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from playground import hub, metrics, services, wire

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
    """The last few snapshots as sent, so a hundred viewers cost one JSON encoding and one websocket
    framing, not a hundred."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.texts: OrderedDict[tuple[str, int, str], wire.Frame] = OrderedDict()

    def get(self, key: tuple[str, int, str]) -> wire.Frame | None:
        return self.texts.get(key)

    def put(self, key: tuple[str, int, str], text: wire.Frame) -> None:
        self.texts[key] = text
        while len(self.texts) > self.size:
            self.texts.popitem(last=False)


encoded_texts = EncodedTexts(64)

# A channel-layer alias that is not configured: channels then gives the consumer no channel and no
# receive task of its own; the hub receives the scenario's broadcasts for every socket of the process.
NO_CHANNEL_LAYER = "playground.hub-receives"

# Tries at a snapshot the hub's recent history can bridge to what it already sent (the second read is
# newer than everything sent, so it always can).
SNAPSHOT_TRIES = 3


class ScenarioConsumer(AsyncJsonWebsocketConsumer):
    """Read-only: clients receive snapshots and events; the only message they may send is resync."""

    channel_layer_alias = NO_CHANNEL_LAYER
    public_id: str
    scenario_hub: hub.Hub | None = None
    socket: hub.Socket | None = None

    async def connect(self) -> None:
        self.public_id = self.scope["url_route"]["kwargs"]["public_id"]
        self.base_url = base_url(self.scope)
        views.watch(self.public_id)
        metrics.websocket_connected()
        self.socket = hub.Socket(self.base_send, self.base_url, self.send_snapshot)
        # Join before reading: the hub is subscribed once this returns, so no change can fall between
        # the snapshot and the first event.
        self.scenario_hub = await hub.join(self.public_id, self.socket, views)
        await self.accept()
        if not await self.send_snapshot():
            await self.close(code=CLOSE_NOT_FOUND)

    async def disconnect(self, code: int) -> None:
        if self.socket is None:
            return
        views.unwatch(self.public_id)
        metrics.websocket_disconnected()
        if self.scenario_hub is not None:
            await hub.leave(self.scenario_hub, self.socket)
        self.socket = self.scenario_hub = None  # a second disconnect is a no-op

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

    async def send_snapshot(self) -> bool:
        """A fresh view, and after it whatever the hub already sent past it; False for an unknown scenario."""
        for _ in range(SNAPSHOT_TRIES):
            view = await views.fresh(self.public_id)
            if view is None:
                return False
            if self.scenario_hub is None or self.socket is None:
                return True  # disconnected meanwhile
            key = (self.public_id, view["version"], self.base_url)
            frame = encoded_texts.get(key)
            if frame is None:
                frame = wire.Frame(hub.snapshot_text(view, self.base_url))
                encoded_texts.put(key, frame)
            if await self.scenario_hub.deliver_snapshot(self.socket, view["version"], frame):
                return True
        return True
