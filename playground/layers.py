"""The embedded default's channel layer: channels' in-memory layer without a deep copy per receiver.

``InMemoryChannelLayer.send`` deep-copies every message for every channel, so a group_send to N
websocket viewers copies the event (its outcome carries the whole checkpoint, growing with the pods)
N times: measured at 2 ms per viewer per event with 100 pods, the largest cost of a broadcast. Our
consumers never mutate a received message, so one shared object is safe; the top-level dict is still
copied, because the layer stamps routing keys into it. Everything else (capacity, expiry, groups) is
the base class's.

The base class also sweeps every channel and every group member for expired entries on every
``receive``: with N viewers that is N sweeps of N channels per event (quadratic in the viewers). Here
the sweep runs at most every SWEEP_INTERVAL seconds; messages expire after ``expiry`` (60 s), so they
go at most that much later.

``group_send`` puts the message in each member's queue directly instead of through a task per member
(``send`` here never waits): one write's broadcasts reach the scenario's hub (playground/hub.py) in one
turn of the event loop, so they go to the viewers as one batch frame, and none costs a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

SWEEP_INTERVAL = 0.5


class SharedMessageInMemoryChannelLayer(InMemoryChannelLayer):
    """One process, in memory, messages shared read-only between receivers."""

    next_sweep: float = 0.0

    def _clean_expired(self) -> None:
        """``InMemoryChannelLayer._clean_expired``, at most once per SWEEP_INTERVAL instead of per receive."""
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_INTERVAL
        super()._clean_expired()

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """``InMemoryChannelLayer.send`` with a shallow copy instead of ``deepcopy``."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
        try:
            queue.put_nowait((time.time() + self.expiry, dict(message)))
        except asyncio.queues.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """``InMemoryChannelLayer.group_send`` without a task per member: a full member is skipped, as
        there."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, {})):
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)
