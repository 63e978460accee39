"""A lean HTTP/1.1 keep-alive client for the benchmarks: asyncio streams, one request at a time.

The load tool shares two cores with the server it measures, so its writers must cost little: httpx
spends about 3.5 ms of CPU per pod submission here (request model, header objects, transports, the
response model and its decoding), a third of what the server spends answering it. This client writes
the request bytes (a pre-built header block plus the body), reads the status line, the headers and a
``Content-Length`` (or chunked) body, and keeps the connection open for the next request.

It speaks only what the benchmarks need: plain http to a loopback server, no redirects, no TLS, no
proxies, no compression. A request that fails (connection refused, reset, closed mid-answer, timeout)
raises ``LeanHTTPError`` and drops the connection; it is never retried, because a POST the server may
already have committed must not be sent twice (the caller counts it as an error). The next request
opens a fresh connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

# A header block larger than this is not a playground answer: refuse it rather than buffer it.
MAX_HEADER_BYTES = 64 * 1024


class LeanHTTPError(Exception):
    """The request got no complete answer (the connection is dropped)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class LeanHTTPConnection:
    """One keep-alive connection to ``base_url`` (``http://host:port``), used by one task at a time."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{base_url!r}: only http://host[:port] URLs")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout
        # Everything after the request line but the body's length is the same for every request.
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._common = f"Host: {parts.netloc}\r\n{extra}".encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> LeanHTTPConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def get(self, path: str) -> Response:
        return await self.request("GET", path)

    async def post_json(self, path: str, value: Any) -> Response:
        return await self.request("POST", path, orjson.dumps(value), "application/json")

    async def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> Response:
        """Send one request and read its whole answer; raises ``LeanHTTPError`` when there is none."""
        head = [f"{method} {path} HTTP/1.1\r\n".encode("latin-1"), self._common]
        if content_type is not None:
            head.append(f"Content-Type: {content_type}\r\n".encode("latin-1"))
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body or b'')}\r\n".encode("latin-1"))
        head.append(b"\r\n")
        if body:
            head.append(body)
        try:
            async with asyncio.timeout(self.timeout):
                if self._writer is None:
                    self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                assert self._reader is not None
                self._writer.write(b"".join(head))
                response = await read_response(self._reader, method == "HEAD")
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise LeanHTTPError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        except LeanHTTPError:
            await self.close()
            raise
        if response.headers.get("connection", "").lower() == "close":
            await self.close()
        return response


async def read_response(reader: asyncio.StreamReader, head_only: bool = False) -> Response:
    """Read one HTTP/1.1 answer: status line, headers, then a Content-Length, chunked or empty body."""
    block = await reader.readuntil(b"\r\n\r\n")
    if len(block) > MAX_HEADER_BYTES:
        raise LeanHTTPError("header block too large")
    lines = block[:-4].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise LeanHTTPError(f"not an HTTP/1.x status line: {lines[0]!r}")
    status = int(rest[:3])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if head_only or status in (204, 304) or 100 <= status < 200:
        return Response(status, headers, b"")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Response(status, headers, await read_chunked(reader))
    length = headers.get("content-length")
    if length is None:
        # No length and not chunked: the body runs to the end of the connection.
        headers["connection"] = "close"
        return Response(status, headers, await reader.read())
    return Response(status, headers, await reader.readexactly(int(length)))


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            # Trailers (none expected), up to the blank line.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
