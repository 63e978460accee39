"""One fan-out hub per process per watched scenario (docs/CONTRACTS.md section 4).

The first local viewer of a scenario starts its hub; the hub joins the channel-layer group
``scenario.<id>`` once, with a channel of its own, and one task receives every broadcast for all the
viewers of this process (with Redis: one delivery per process per event, not one per socket). The last
viewer leaving stops it. The hub

- puts the broadcasts back in version order (two writers' broadcasts can cross); a version missing for
  GAP_WAIT_SECONDS is read from the event log, and failing that every socket gets a snapshot;
- hands each message on once per process: a text message is framed once for every socket
  (``playground.wire``), a step without a delta gets the scenario view once per base URL;
- coalesces under load: one sender task sends what it has; what arrives while it is busy goes next
  round, consecutive text messages as one ``batch`` frame, so idle latency is unchanged and the
  per-socket cost stops growing with the event rate.

Each socket keeps its own version: its snapshot may be ahead of the hub (it then skips what it has) or
behind what the hub already sent (it then catches up from the hub's recent history).

A slow reader never holds the others up: writes never wait on a socket (Twisted buffers what the kernel
does not take at once). A Daphne socket with more than ``wire.SLOW_SOCKET_BYTES`` unsent is skipped
instead of buffering without limit, and once it has drained it gets a fresh snapshot (``Socket``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from playground import fanout, services, wire

logger = logging.getLogger(__name__)

# How long a message that arrived after a gap waits for the missing ones before they are read from the log.
GAP_WAIT_SECONDS = 0.1
# Text messages the hub keeps after sending them, for sockets whose snapshot was read before them.
HISTORY_SIZE = 256
# A batch frame holds at most this many messages and (roughly) this many characters.
BATCH_MAX_MESSAGES = 256
BATCH_MAX_CHARS = 2 * 1024 * 1024
# How often a lagging socket's transport is looked at until it has drained.
DRAIN_POLL_SECONDS = 0.05

# Group messages rebuilt from the event log for a gap, per (scenario, version): once per process.
filled: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
FILLED_SIZE = 256


class Views(Protocol):
    """What the hub needs of ``playground.consumers.ViewCache``."""

    async def fresh(self, public_id: str) -> dict[str, Any] | None: ...

    async def at_least(self, public_id: str, version: int) -> dict[str, Any] | None: ...


def with_base_url(view: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The view as one socket's page shows it: the share URL absolute on the host it connected to."""
    return {**view, "share_url": base_url + view["share_url"]}


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


class Socket:
    """One viewer registered with a hub: where it stands and how to write to it.

    ``version`` is -1 until the socket's first snapshot went out; nothing else is sent before it.
    ``resync`` sends the socket a fresh snapshot (the consumer's ``send_snapshot``); the hub calls it
    when the socket cannot follow: a version it missed, or a slow reader that has drained.
    """

    __slots__ = ("base_url", "lagging", "protocol", "resync", "resync_task", "send", "version")

    def __init__(self, send: wire.Send, base_url: str, resync: Callable[[], Awaitable[object]]) -> None:
        self.send = send
        self.protocol = wire.daphne_protocol(send)
        self.base_url = base_url
        self.resync = resync
        self.version = -1
        self.lagging = False
        self.resync_task: asyncio.Task[None] | None = None

    def slow(self) -> bool:
        """A slow reader: Twisted would buffer without limit, and every event would add to it."""
        return self.protocol is not None and wire.backlog(self.protocol) > wire.SLOW_SOCKET_BYTES

    async def write(self, frame: wire.Frame) -> None:
        """Write one frame; a socket that fails (closing under us) must not keep the others waiting."""
        try:
            await wire.write(self.send, self.protocol, frame)
        except Exception:
            logger.warning("writing to a websocket viewer failed", exc_info=True)

    def fall_behind(self) -> None:
        """Stop sending to this socket; once its transport has drained, a snapshot makes it whole."""
        if self.lagging:
            return
        self.lagging = True
        self.resync_task = asyncio.ensure_future(self.catch_up())

    async def catch_up(self) -> None:
        try:
            while self.protocol is not None and wire.backlog(self.protocol) > wire.SLOW_SOCKET_BYTES // 2:
                if not wire.is_open(self.send, self.protocol):
                    return
                await asyncio.sleep(DRAIN_POLL_SECONDS)
            await self.resync()
        except Exception:
            logger.exception("resynchronising a websocket viewer failed")
        finally:
            self.lagging = False
            self.resync_task = None


class Hub:
    """The viewers of one scenario in this process, fed from one channel-layer subscription."""

    def __init__(self, public_id: str, layer: Any, views: Views) -> None:
        self.public_id = public_id
        self.group = services.group_name(public_id)
        self.layer = layer
        self.views = views
        self.loop = asyncio.get_running_loop()
        self.sockets: dict[Socket, None] = {}  # insertion-ordered set
        self.channel = ""
        self.stopped = False
        # Versions: ``version`` is the newest received in order (None until a snapshot sets the base),
        # ``sent`` the newest the sender handed on.
        self.version: int | None = None
        self.sent = -1
        self.pending: dict[int, dict[str, Any]] = {}
        self.outbox: deque[dict[str, Any]] = deque()
        self.history: OrderedDict[int, str] = OrderedDict()
        self.wakeup = asyncio.Event()
        self.gap_timer: asyncio.Task[None] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.starting: asyncio.Future[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the group once for the process; from here on, every broadcast reaches the hub."""
        self.tasks.append(asyncio.ensure_future(self.send_forever()))
        if self.layer is None:
            return
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.tasks.append(asyncio.ensure_future(self.receive_forever()))

    async def stop(self) -> None:
        self.stopped = True
        tasks = [*self.tasks, *([self.gap_timer] if self.gap_timer is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.starting is not None:
            await asyncio.gather(self.starting, return_exceptions=True)
        if self.layer is not None and self.channel:
            await self.layer.group_discard(self.group, self.channel)

    async def receive_forever(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A broken connection to Redis: what it lost, the gap logic reads from the log.
                logger.exception("receiving the broadcasts of scenario %s failed", self.public_id)
                await asyncio.sleep(0.5)
                continue
            if message.get("type") == "scenario.event":
                self.receive(message)
            elif message.get("type") == "scenario.events":  # one write's versions, in order
                for each in message.get("messages") or []:
                    self.receive(each)

    # --- ordering --------------------------------------------------------------------------------

    def receive(self, message: dict[str, Any]) -> None:
        """A committed change, from ``services.broadcast`` in any process."""
        version = message["version"]
        if self.version is not None and version <= self.version:
            return  # already handed on, or older than every socket's snapshot
        self.pending[version] = message
        if self.version is not None:
            self.advance()

    def set_base(self, version: int) -> None:
        """The first snapshot's version: where the hub's order starts (the hub joined before it was read,
        so every later version reaches the hub)."""
        if self.version is not None:
            return
        self.version = self.sent = version
        self.pending = {v: m for v, m in self.pending.items() if v > version}
        self.advance()

    def advance(self) -> None:
        """Queue the held messages that follow without a gap; time the gap if one is left."""
        assert self.version is not None
        while (message := self.pending.pop(self.version + 1, None)) is not None:
            self.version += 1
            self.outbox.append(message)
        if self.outbox:
            self.wakeup.set()
        if self.pending and self.gap_timer is None:
            self.gap_timer = asyncio.ensure_future(self.close_gap())

    async def close_gap(self) -> None:
        """The missing versions did not arrive in time: take them from the event log (they are committed
        before they are broadcast), or, if even that fails, bring every socket to a fresh snapshot."""
        try:
            await asyncio.sleep(GAP_WAIT_SECONDS)
            if not self.pending or self.version is None:
                return
            for message in await filled_messages(self.public_id, self.version, max(self.pending)):
                if message["version"] > self.version:
                    self.pending.setdefault(message["version"], message)
            self.advance()  # no second timer starts: gap_timer is this task until it ends
            if not self.pending:
                return
            view = await self.views.fresh(self.public_id)
            if view is None:
                return
            self.outbox.append({"type": "hub.snapshot", "version": view["version"], "view": view})
            self.version = max(self.version, view["version"])
            self.pending = {v: m for v, m in self.pending.items() if v > self.version}
            self.advance()
        finally:
            self.gap_timer = None
            if self.pending and self.version is not None and not self.stopped:
                self.gap_timer = asyncio.ensure_future(self.close_gap())

    # --- sending ---------------------------------------------------------------------------------

    async def send_forever(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.outbox:
                try:
                    await self.send_next()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("sending to the viewers of scenario %s failed", self.public_id)

    def take_run(self) -> list[dict[str, Any]]:
        """The queued consecutive text messages, up to a batch's limits."""
        run: list[dict[str, Any]] = []
        size = 0
        while self.outbox and "text" in self.outbox[0] and len(run) < BATCH_MAX_MESSAGES:
            text = self.outbox[0]["text"]
            if run and size + len(text) > BATCH_MAX_CHARS:
                break
            run.append(self.outbox.popleft())
            size += len(text) + 1
        return run

    async def send_next(self) -> None:
        run = self.take_run()
        if run:
            await self.send_texts(run)
            return
        message = self.outbox.popleft()
        if message["type"] == "hub.snapshot":
            await self.send_snapshots(message["version"], message["view"])
        else:
            await self.send_view_event(message)

    def followers(self, version: int) -> Iterator[Socket]:
        """The sockets still without ``version``, each checked when its turn comes (on the ordinary path
        a write awaits, and a snapshot may meanwhile have taken a socket further)."""
        for socket in list(self.sockets):
            if socket.version < 0 or socket.version >= version or socket.lagging:
                continue  # no snapshot yet, already has it, or waiting to drain
            yield socket

    async def send_texts(self, run: list[dict[str, Any]]) -> None:
        """Consecutive text messages: one frame (a batch when more than one) for every socket, framed
        once; a socket whose snapshot is ahead of the run's start gets the rest of it."""
        first, last = run[0]["version"], run[-1]["version"]
        texts = [message["text"] for message in run]
        self.sent = last
        for version, text in zip(range(first, last + 1), texts, strict=True):
            self.history[version] = text
        while len(self.history) > HISTORY_SIZE:
            self.history.popitem(last=False)
        frames: dict[int, wire.Frame] = {}
        for socket in self.followers(last):
            start = socket.version + 1
            if start < first:
                socket.fall_behind()  # missed a version: should not happen, a snapshot repairs it
                continue
            if socket.slow():
                socket.fall_behind()
                continue
            frame = frames.get(start)
            if frame is None:
                rest = texts[start - first :]
                frame = frames[start] = wire.Frame(rest[0] if len(rest) == 1 else wire.batch_text(rest))
            socket.version = last  # before any await: no other sender repeats it
            await socket.write(frame)

    async def send_view_event(self, message: dict[str, Any]) -> None:
        """A step without a delta (a restart, a crash): the event with the whole view, built and encoded
        once per base URL whatever the number of sockets; it goes alone, after the batch before it."""
        version = message["version"]
        self.sent = version
        self.history.clear()  # a socket behind this step needs a snapshot, not texts
        view = await self.views.at_least(self.public_id, version)
        if view is None:
            return
        frames: dict[str, wire.Frame] = {}
        for socket in self.followers(version):
            if socket.version + 1 < version or socket.slow():
                socket.fall_behind()
                continue
            frame = frames.get(socket.base_url)
            if frame is None:
                body = {
                    "type": "event",
                    "version": version,
                    "event": message["event"],
                    "scenario": with_base_url(view, socket.base_url),
                }
                frame = frames[socket.base_url] = wire.Frame(json.dumps(body))
            socket.version = version
            await socket.write(frame)

    async def send_snapshots(self, version: int, view: dict[str, Any]) -> None:
        """A gap nothing could fill: every socket behind ``version`` gets the view as a snapshot."""
        self.sent = max(self.sent, version)
        self.history.clear()
        frames: dict[str, wire.Frame] = {}
        for socket in self.followers(version):
            frame = frames.get(socket.base_url)
            if frame is None:
                frame = frames[socket.base_url] = wire.Frame(snapshot_text(view, socket.base_url))
            socket.version = version
            await socket.write(frame)

    async def deliver_snapshot(self, socket: Socket, version: int, snapshot: wire.Frame) -> bool:
        """Send a socket its snapshot of ``version`` and what the hub sent after it.

        False when the hub's history no longer holds every text between the snapshot and what it sent:
        the caller reads a newer snapshot instead.
        """
        if version < socket.version:
            return True  # events already took this socket further
        self.set_base(version)
        missed = []
        for missing in range(version + 1, self.sent + 1):
            text_after = self.history.get(missing)
            if text_after is None:
                return False
            missed.append(text_after)
        socket.version = version + len(missed)  # before any await: the sender skips what this sends
        await socket.write(snapshot)
        if missed:
            await socket.write(wire.Frame(missed[0] if len(missed) == 1 else wire.batch_text(missed)))
        return True


def snapshot_text(view: dict[str, Any], base_url: str) -> str:
    return json.dumps(
        {"type": "snapshot", "version": view["version"], "scenario": with_base_url(view, base_url)}
    )


# The running hubs of this process, by scenario.
hubs: dict[str, Hub] = {}


async def join(public_id: str, socket: Socket, views: Views) -> Hub:
    """Register a socket with its scenario's hub, starting the hub for the first one. Returns once the
    hub is subscribed: a snapshot read after this misses no broadcast."""
    hub = hubs.get(public_id)
    if hub is None or hub.stopped or hub.loop is not asyncio.get_running_loop():
        hub = hubs[public_id] = Hub(public_id, get_channel_layer(), views)
        hub.starting = asyncio.ensure_future(hub.start())
    hub.sockets[socket] = None
    assert hub.starting is not None
    try:
        await asyncio.shield(hub.starting)
    except BaseException:
        await leave(hub, socket)
        raise
    return hub


async def leave(hub: Hub, socket: Socket) -> None:
    """Unregister a socket; the last one out stops the hub and leaves the group."""
    hub.sockets.pop(socket, None)
    if socket.resync_task is not None:
        socket.resync_task.cancel()
    if hub.sockets or hub.stopped:
        return
    if hubs.get(hub.public_id) is hub:
        del hubs[hub.public_id]
    await hub.stop()
