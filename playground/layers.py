"""The embedded default's channel layer: channels' in-memory layer without a deep copy per receiver.

``InMemoryChannelLayer.send`` deep-copies every message for every channel, so a group_send to N
websocket viewers copies the event (its outcome carries the whole checkpoint, growing with the pods)
N times: measured at 2 ms per viewer per event with 100 pods, the largest cost of a broadcast. Our
consumers never mutate a received message, so one shared object is safe; the top-level dict is still
copied, because the layer stamps routing keys into it. Everything else (capacity, expiry, groups) is
the base class's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer


class SharedMessageInMemoryChannelLayer(InMemoryChannelLayer):
    """One process, in memory, messages shared read-only between receivers."""

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
