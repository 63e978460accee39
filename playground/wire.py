"""Writing one websocket text frame to many sockets for the price of one (docs/CONTRACTS.md section 4).

Sending through channels costs, per socket, a UTF-8 encoding and a websocket framing of the text
(autobahn's ``sendMessage``) behind three coroutine layers. Every viewer of a scenario gets the same
bytes, so a :class:`Frame` encodes and frames its text once (autobahn's ``prepareMessage``) and each
socket served by Daphne only writes those bytes to its transport (``sendPreparedMessage``).

The seam is :func:`write_prepared`: it recognises the ASGI ``send`` Daphne hands an application
(``functools.partial(server.handle_reply, protocol)``, daphne/server.py ``create_application``) and
an open autobahn protocol behind it. Anything else (channels' ``WebsocketCommunicator`` in tests,
another server) gets the ordinary ``websocket.send`` message through ``send``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]

# A socket whose transport holds more unsent bytes than this is a slow reader: the hub stops writing
# to it and makes it whole with a snapshot once it has drained (playground/hub.py, Socket.lagging).
SLOW_SOCKET_BYTES = 4 * 1024 * 1024


def batch_text(texts: list[str]) -> str:
    """The batch frame of section 4: each message's text as it is, in order, not re-encoded."""
    return '{"type":"batch","messages":[' + ",".join(texts) + "]}"


class Frame:
    """One websocket text message, framed at most once whatever the number of sockets it goes to."""

    __slots__ = ("_prepared", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._prepared: Any = None

    def prepared(self, protocol: Any) -> Any:
        """autobahn's ``PreparedMessage`` of the text: server frames are unmasked, so one fits every
        server protocol of the process."""
        if self._prepared is None:
            self._prepared = protocol.factory.prepareMessage(self.text.encode("utf-8"))
        return self._prepared


def daphne_protocol(send: Send) -> Any:
    """The autobahn protocol behind Daphne's ASGI ``send``, or None for any other ``send``."""
    if not isinstance(send, functools.partial) or len(send.args) != 1 or send.keywords:
        return None
    server = getattr(send.func, "__self__", None)
    protocol = send.args[0]
    if getattr(send.func, "__name__", "") != "handle_reply" or not hasattr(server, "connections"):
        return None
    if not (hasattr(protocol, "sendPreparedMessage") and hasattr(protocol, "factory")):
        return None
    return protocol


def is_open(send: Send, protocol: Any) -> bool:
    """What Daphne's ``handle_reply`` checks before it writes, plus autobahn's own open state
    (``sendPreparedMessage`` does not check it)."""
    server = send.func.__self__  # type: ignore[attr-defined]
    connection = server.connections.get(protocol)
    return (
        connection is not None
        and not connection.get("disconnected")
        and protocol.state == protocol.STATE_OPEN
    )


def backlog(protocol: Any) -> int:
    """Bytes written to the socket's Twisted transport and not yet taken by the kernel."""
    transport = getattr(protocol, "transport", None)
    if transport is None:
        return 0
    pending = getattr(transport, "_tempDataLen", 0)
    buffer = getattr(transport, "dataBuffer", b"")
    return int(pending) + max(len(buffer) - int(getattr(transport, "offset", 0)), 0)


@functools.cache
def tcp_connection() -> type:
    """Twisted's TCP connection class, imported on first use (only a Daphne process has a reactor)."""
    from twisted.internet.tcp import Connection

    return Connection


def idle_tcp(transport: Any) -> bool:
    """A plain TCP transport (not TLS) with nothing waiting in its buffers: bytes written now go next."""
    return (
        isinstance(transport, tcp_connection())
        and bool(transport.connected)
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport._tempDataBuffer
        and transport.offset >= len(transport.dataBuffer)
    )


def write_now(transport: Any, data: bytes) -> None:
    """Hand ``data`` to the kernel at once, buffering in Twisted only what it does not take.

    ``transport.write`` always buffers and registers the socket for writing (an ``epoll_ctl`` to add it
    and one to remove it once written, plus a reactor round): most of a socket's cost once the frame is
    prepared. An idle socket takes a small frame whole in one ``send``.
    """
    sent = transport.writeSomeData(data)
    if not isinstance(sent, int):
        transport.write(data)  # the connection is lost: let Twisted find out and close it as usual
    elif sent < len(data):
        transport.write(data[sent:])


def write_prepared(send: Send, protocol: Any, frame: Frame) -> bool:
    """Write ``frame`` straight to Daphne's protocol; False when the ordinary path must be taken
    (no Daphne protocol, or one that is not open: ``send`` then drops or reports it as channels does)."""
    if protocol is None or not is_open(send, protocol):
        return False
    prepared = frame.prepared(protocol)
    transport = protocol.transport
    # With permessage-deflate, or autobahn's own send queue in use, autobahn must frame and order it.
    if (
        getattr(protocol, "_perMessageCompress", None) is None
        and not protocol.send_queue
        and idle_tcp(transport)
    ):
        write_now(transport, prepared.payloadHybi)
    else:
        protocol.sendPreparedMessage(prepared)
    return True


async def write(send: Send, protocol: Any, frame: Frame) -> None:
    """Send ``frame`` on one socket: prepared through Daphne, else as an ASGI ``websocket.send``.

    A Daphne socket that is no longer open gets nothing: it is closing (Daphne would drop the message,
    or autobahn raise ``Disconnected``), and its consumer hears of it through ``websocket.disconnect``.
    """
    if write_prepared(send, protocol, frame) or protocol is not None:
        return
    await send({"type": "websocket.send", "text": frame.text})
