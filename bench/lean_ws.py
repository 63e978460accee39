"""A lean websocket client for the load tool's viewers: an asyncio Protocol handing messages to a callback.

With 100 viewers every event is 100 frames at the client, all in one Python process that shares the
cores with the server it measures. The ``websockets`` client spends about 75 µs of CPU per frame here
(a parser generator per frame, a message assembler, a future and a task wake-up per ``recv``, a copy);
this one parses the frames in ``data_received`` and calls ``on_message(payload, now)`` directly, with
``now`` the time the bytes were read, so a frame's arrival time is not delayed by the client's own
queue either.

What it speaks (RFC 6455, client side, no extensions): the opening handshake with its accept check,
unmasked server frames of any length, fragmented messages, ping (answered with a pong) and close
(answered); the client's own frames are masked as the RFC requires. Loopback benchmarks only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
MAX_HANDSHAKE_BYTES = 64 * 1024


class WebSocketError(Exception):
    """The server broke the protocol, or refused the upgrade."""


def accept_key(key: bytes) -> bytes:
    """The Sec-WebSocket-Accept the server must answer to ``key`` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``key`` repeated (one big-integer XOR, no loop per byte)."""
    if not payload:
        return b""
    size = len(payload)
    repeated = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(size, "big")


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame, masked."""
    key = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + key + mask(payload, key)


class FrameReader:
    """Bytes in, complete messages out: ``[(opcode, payload)]``, fragments joined, control frames as is.

    Frames are cut straight out of the bytes read (one copy per payload); only an incomplete frame's
    bytes are kept, and a frame arriving in many reads is joined once, when its last byte is in."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.needed = 0  # bytes the buffer must hold before the next frame can be cut
        self.fragments: list[bytes] = []
        self.fragment_opcode = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self.buffer:
            self.buffer += data
            if len(self.buffer) < self.needed:
                return []
            data, self.buffer = bytes(self.buffer), bytearray()
        messages: list[tuple[int, bytes]] = []
        total, pos = len(data), 0
        while True:
            if total - pos < 2:
                needed = 2
                break
            first, second = data[pos], data[pos + 1]
            size, start = second & 0x7F, pos + 2
            if size == 126:
                if total - pos < 4:
                    needed = 4
                    break
                size, start = int.from_bytes(data[pos + 2 : pos + 4], "big"), pos + 4
            elif size == 127:
                if total - pos < 10:
                    needed = 10
                    break
                size, start = int.from_bytes(data[pos + 2 : pos + 10], "big"), pos + 10
            masked = second & 0x80
            end = start + (4 if masked else 0) + size
            if end > total:
                needed = end - pos
                break
            # Servers must not mask, but a masked frame is still readable.
            payload = mask(data[start + 4 : end], data[start : start + 4]) if masked else data[start:end]
            pos = end
            opcode = first & 0x0F
            if opcode >= CLOSE:
                messages.append((opcode, payload))
            elif opcode == CONTINUATION:
                if not self.fragments:
                    raise WebSocketError("a continuation frame without a first fragment")
                self.fragments.append(payload)
                if first & 0x80:
                    messages.append((self.fragment_opcode, b"".join(self.fragments)))
                    self.fragments = []
            elif first & 0x80:
                messages.append((opcode, payload))
            else:
                self.fragment_opcode, self.fragments = opcode, [payload]
        if pos < total:
            self.buffer, self.needed = bytearray(data[pos:]), needed
        return messages


class LeanWebSocket(asyncio.Protocol):
    """One client connection; ``on_message(payload, now)`` runs for every text or binary message."""

    def __init__(self, request: bytes, key: bytes, on_message: Callable[[bytes, float], None]) -> None:
        self.request = request
        self.key = key
        self.on_message = on_message
        self.reader = FrameReader()
        self.handshake = bytearray()
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.close_sent = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()  # the writers' clock
        if not self.opened.done():
            data = self.finish_handshake(data)
            if not data:
                return
        try:
            messages = self.reader.feed(data)
        except WebSocketError as exc:
            self.fail(exc)
            return
        for opcode, payload in messages:
            if opcode in (TEXT, BINARY):
                self.on_message(payload, now)
            elif opcode == PING:
                self.send(PONG, payload)
            elif opcode == CLOSE:
                if not self.close_sent:
                    self.send(CLOSE, payload[:2])
                    self.close_sent = True
                assert self.transport is not None
                self.transport.close()

    def finish_handshake(self, data: bytes) -> bytes:
        """Buffer the answer to the upgrade; once complete, check it and return the bytes after it."""
        self.handshake += data
        end = self.handshake.find(b"\r\n\r\n")
        if end < 0:
            if len(self.handshake) > MAX_HANDSHAKE_BYTES:
                self.fail(WebSocketError("handshake answer too large"))
            return b""
        lines = bytes(self.handshake[:end]).decode("latin-1").split("\r\n")
        rest = bytes(self.handshake[end + 4 :])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if lines[0].split(" ")[1:2] != ["101"]:
            self.fail(WebSocketError(f"the upgrade was refused: {lines[0]!r}"))
            return b""
        if headers.get("sec-websocket-accept", "").encode("latin-1") != accept_key(self.key):
            self.fail(WebSocketError("wrong Sec-WebSocket-Accept"))
            return b""
        self.opened.set_result(None)
        return rest

    def fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(opcode, payload))

    def send_text(self, text: str) -> None:
        self.send(TEXT, text.encode("utf-8"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or WebSocketError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    async def close(self, timeout: float = 5.0) -> None:
        """Send a normal close and wait (bounded) for the server to close the connection."""
        if self.transport is None:
            return
        if not self.close_sent:
            self.send(CLOSE, (1000).to_bytes(2, "big"))
            self.close_sent = True
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            self.transport.abort()


async def connect(
    url: str, origin: str, on_message: Callable[[bytes, float], None], timeout: float = 30.0
) -> LeanWebSocket:
    """Open ``ws://host:port/path`` and return the connection once the server accepted the upgrade."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise ValueError(f"{url!r}: only ws://host[:port]/path URLs")
    key = base64.b64encode(os.urandom(16))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode('ascii')}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    ).encode("latin-1")
    loop = asyncio.get_running_loop()
    protocol = LeanWebSocket(request, key, on_message)
    async with asyncio.timeout(timeout):
        await loop.create_connection(lambda: protocol, parts.hostname, parts.port or 80)
        try:
            await protocol.opened
        except BaseException:
            if protocol.transport is not None:
                protocol.transport.abort()
            raise
    return protocol
