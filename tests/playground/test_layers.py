"""The embedded default's channel layer: channels' in-memory layer, sharing messages between receivers."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

from playground.layers import SharedMessageInMemoryChannelLayer


async def test_a_group_send_reaches_every_member_with_one_shared_payload() -> None:
    layer = SharedMessageInMemoryChannelLayer()
    assert isinstance(layer, InMemoryChannelLayer)
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("scenario.x", channel)
    event = {"version": 7, "outcome": {"state_after": {"0": {"memory": {"free": 1}}}}}
    await layer.group_send("scenario.x", {"type": "scenario.event", "version": 7, "event": event})
    received = [await layer.receive(channel) for channel in channels]
    assert all(message == {"type": "scenario.event", "version": 7, "event": event} for message in received)
    # No deep copy: the nested payload is the very object sent, whatever the number of receivers...
    assert all(message["event"] is event for message in received)
    # ...but each receiver has its own top-level dict, which the layer and consumers may stamp keys into.
    received[0]["stamped"] = True
    assert "stamped" not in received[1]


async def test_capacity_and_expiry_are_the_base_layers() -> None:
    layer = SharedMessageInMemoryChannelLayer(capacity=2, expiry=60)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "a"})
    await layer.send(channel, {"type": "b"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "c"})
    assert (await layer.receive(channel))["type"] == "a"


async def test_expired_entries_are_swept_at_most_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    sweeps: list[float] = []
    real_sweep = InMemoryChannelLayer._clean_expired

    def counting(self: InMemoryChannelLayer) -> None:
        sweeps.append(time.monotonic())
        real_sweep(self)

    monkeypatch.setattr(InMemoryChannelLayer, "_clean_expired", counting)
    layer = SharedMessageInMemoryChannelLayer(expiry=-1)  # every message is expired once sent
    live = await layer.new_channel()
    layer._clean_expired()  # the first sweep; the interval starts
    for _ in range(50):
        await layer.send(live, {"type": "x"})
        await layer.receive(live)
    assert len(sweeps) == 1, "fifty receives within the interval, no further sweep"
    stale = await layer.new_channel()
    await layer.group_add("scenario.x", stale)
    await layer.send(stale, {"type": "x"})
    layer.next_sweep = 0.0  # the interval has passed
    layer._clean_expired()
    assert len(sweeps) == 2 and stale not in layer.channels  # the expired message went, with its membership
    assert stale not in layer.groups.get("scenario.x", {})


async def test_a_group_send_fills_every_members_queue_without_giving_up_the_loop() -> None:
    """No task per member: one write's broadcasts are all queued before anything else runs (the hub
    then sends them as one batch frame), and a full member is skipped as in the base class."""
    layer = SharedMessageInMemoryChannelLayer(capacity=2)
    roomy, full = await layer.new_channel(), await layer.new_channel()
    for channel in (roomy, full):
        await layer.group_add("scenario.x", channel)
    await layer.send(full, {"type": "x"})
    await layer.send(full, {"type": "x"})  # at capacity
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "another callback")
    for version in (1, 2):
        await layer.group_send("scenario.x", {"type": "scenario.event", "version": version})
    assert ran == [], "nothing else ran in between"
    assert [(await layer.receive(roomy))["version"] for _ in range(2)] == [1, 2]
    assert [(await layer.receive(full))["type"] for _ in range(2)] == ["x", "x"]
    await asyncio.sleep(0)
    assert ran == ["another callback"]
