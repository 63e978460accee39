"""A lean websocket client for the load tool's viewers: a raw socket whose messages go to a callback.

With 100 viewers every event is 100 frames at the client, all in one Python process that shares the
cores with the server it measures. The ``websockets`` client spends about 25 µs of CPU per frame here
under load and 75 µs when frames come one at a time (a parser generator per frame, a message
assembler, a future and a task wake-up per ``recv``); this one reads each socket from an event-loop
reader callback, cuts the frames out of the bytes read and calls ``on_message(payload, now)``
directly.

``now`` is when the kernel received the bytes, on ``time.perf_counter``'s clock: the socket asks for
receive timestamps (Linux SO_TIMESTAMPNS; for TCP the stamp of the last packet a read consumed), so a
client busy with other sockets does not add its own delay to the latencies it measures. Where the
kernel gives no stamp, ``now`` is the time of the read.

What it speaks (RFC 6455, client side, no extensions): the opening handshake with its accept check,
unmasked server frames of any length, fragmented messages, ping (answered with a pong) and close
(answered); the client's own frames are masked as the RFC requires. Loopback benchmarks only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import socket
import struct
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
MAX_HANDSHAKE_BYTES = 64 * 1024
READ_SIZE = 256 * 1024
# Linux's SO_TIMESTAMPNS (the socket module does not name it): each read carries a struct timespec of
# CLOCK_REALTIME as an SCM_TIMESTAMPNS (same number) control message.
SO_TIMESTAMPNS = 35 if sys.platform.startswith("linux") else None
TIMESPEC = struct.Struct("@qq")


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


class LeanWebSocket:
    """One client connection on a non-blocking socket read by an event-loop reader callback;
    ``on_message(payload, now)`` runs for every text or binary message."""

    def __init__(
        self, sock: socket.socket, on_message: Callable[[bytes, float], None], stamped: bool
    ) -> None:
        self.sock = sock
        self.on_message = on_message
        self.stamped = stamped
        self.reader = FrameReader()
        self.loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self.close_sent = False
        self.reading = False
        # CLOCK_REALTIME nanoseconds minus perf_counter nanoseconds: turns a kernel stamp into the
        # writers' clock (both clocks move together but for a step of the wall clock mid-run).
        self.offset_ns = time.time_ns() - time.perf_counter_ns()

    def start(self, rest: bytes, now: float) -> None:
        """Take the bytes that came with the handshake answer, then read as data arrives."""
        if rest:
            self.take(rest, now)
        if not self.closed.done():
            self.loop.add_reader(self.sock.fileno(), self.readable)
            self.reading = True

    def readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(READ_SIZE, socket.CMSG_SPACE(TIMESPEC.size))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.lost()
            return
        if not data:
            self.lost()
            return
        self.take(data, self.arrival(ancillary))

    def arrival(self, ancillary: list[tuple[int, int, bytes]]) -> float:
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= TIMESPEC.size:
                seconds, nanoseconds = TIMESPEC.unpack_from(value)
                return (seconds * 1_000_000_000 + nanoseconds - self.offset_ns) / 1e9
        return time.perf_counter()

    def take(self, data: bytes, now: float) -> None:
        try:
            messages = self.reader.feed(data)
        except WebSocketError:
            self.lost()
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
                self.lost()
                return

    def send(self, opcode: int, payload: bytes) -> None:
        """Write one small frame (a resync, a pong, a close): a socket buffer never fills with these."""
        if self.closed.done():
            return
        try:
            self.sock.sendall(encode_frame(opcode, payload))
        except OSError:
            self.lost()

    def send_text(self, text: str) -> None:
        self.send(TEXT, text.encode("utf-8"))

    def lost(self) -> None:
        if self.reading:
            self.loop.remove_reader(self.sock.fileno())
            self.reading = False
        if not self.closed.done():
            self.closed.set_result(None)
        self.sock.close()

    async def close(self, timeout: float = 5.0) -> None:
        """Send a normal close and wait (bounded) for the server's close or the end of the connection."""
        if not self.close_sent:
            self.send(CLOSE, (1000).to_bytes(2, "big"))
            self.close_sent = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        self.lost()


def handshake_request(url: str, origin: str, key: bytes) -> tuple[str, int, bytes]:
    """Host, port and the bytes of the opening handshake for ``ws://host:port/path``."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise ValueError(f"{url!r}: only ws://host[:port]/path URLs")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode('ascii')}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    ).encode("latin-1")
    return parts.hostname, parts.port or 80, request


def check_handshake(answer: bytes, key: bytes) -> None:
    """Raise ``WebSocketError`` unless ``answer`` (the header block) accepts the upgrade for ``key``."""
    lines = answer.decode("latin-1").split("\r\n")
    if lines[0].split(" ")[1:2] != ["101"]:
        raise WebSocketError(f"the upgrade was refused: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("sec-websocket-accept", "").encode("latin-1") != accept_key(key):
        raise WebSocketError("wrong Sec-WebSocket-Accept")


async def connect(
    url: str, origin: str, on_message: Callable[[bytes, float], None], timeout: float = 30.0
) -> LeanWebSocket:
    """Open ``ws://host:port/path`` and return the connection once the server accepted the upgrade."""
    key = base64.b64encode(os.urandom(16))
    host, port, request = handshake_request(url, origin, key)
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    stamped = False
    if SO_TIMESTAMPNS is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            stamped = True
        except OSError:
            pass
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (host, port))
            await loop.sock_sendall(sock, request)
            received = b""
            while (end := received.find(b"\r\n\r\n")) < 0:
                if len(received) > MAX_HANDSHAKE_BYTES:
                    raise WebSocketError("handshake answer too large")
                chunk = await loop.sock_recv(sock, READ_SIZE)
                if not chunk:
                    raise WebSocketError("closed during the handshake")
                received += chunk
        now = time.perf_counter()
        check_handshake(received[:end], key)
    except BaseException:
        sock.close()
        raise
    connection = LeanWebSocket(sock, on_message, stamped)
    connection.start(received[end + 4 :], now)
    return connection
