"""Django's ASGI handler with each request's whole Django side in ONE call on a pool of long-lived threads.

Django's own ``ASGIHandler`` (``django.core.handlers.asgi``) loads the middleware chain in async mode.
Our chain is all ``MiddlewareMixin`` classes plus WhiteNoise (sync only), so every request crossed
between the event loop and a thread about a dozen times (``MiddlewareMixin.__acall__`` runs each
``process_request`` and ``process_response`` through ``sync_to_async``), and the views and the
database ran on a thread created for that one request, with a database connection opened for it and
thrown away after it. Even with the chain in sync mode, its ``handle`` still crossed to asgiref's
thread-sensitive thread for the ``request_started`` signal and again for ``response.close()``
(``request_finished``), spooled the body through a ``SpooledTemporaryFile`` and ran two tasks per
request to watch for a disconnect that cannot stop a view running in a thread anyway.

``PooledASGIHandler`` reads the body on the event loop, then runs everything Django does for the
request -- ``request_started``, building the request, the sync middleware chain and view, and for a
complete (non-streaming) response ``close()`` with ``request_finished`` -- in one call on a fixed pool
of threads, and sends the answer: one crossing there and one back, as under WSGI. The request signals
run on the thread that used the database, so ``close_old_connections`` checks the right connection
(``CONN_MAX_AGE`` keeps it between requests). The pool runs through ``sync_to_async``, so
``async_to_sync`` in a view (the channel-layer broadcast) still reaches Daphne's event loop. A
streaming response (WhiteNoise's static files) is sent by the base class and closed on the pool after.
"""

from __future__ import annotations

import io
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import HttpResponseBase
from django.urls import set_script_prefix


class MiddlewareChain(BaseHandler):
    """A synchronous chain of ``middleware`` (dotted paths) in front of the same URLs and views."""

    def __init__(self, middleware: list[str]) -> None:
        super().__init__()
        # BaseHandler.load_middleware reads settings.MIDDLEWARE; point it at this list for the load.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = middleware
        try:
            self.load_middleware(is_async=False)
        finally:
            settings.MIDDLEWARE = full


class PooledASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose request runs synchronously, signals included, on ``threads`` pool threads.

    Requests under ``PLAYGROUND_API_PREFIX`` go through ``PLAYGROUND_API_MIDDLEWARE`` (settings.py says
    why), every other one through the whole of MIDDLEWARE.
    """

    # A complete answer goes to Daphne in one message, not in 64 KiB pieces: each piece costs a message,
    # a reply and a transport write on the event loop, and a batch's answer (every outcome with the
    # whole checkpoint) is megabytes. Twisted buffers the write and sends it as the socket allows.
    chunk_size = 2**26

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        # The base class loaded the chain for async callers; rebuild it for one synchronous call.
        self.load_middleware(is_async=False)
        self.api_prefix: str = settings.PLAYGROUND_API_PREFIX
        self.api_chain = MiddlewareChain(settings.PLAYGROUND_API_MIDDLEWARE)
        self.threads = threads or settings.PLAYGROUND_HTTP_THREADS
        self.pool_pid = 0
        self.pool: ThreadPoolExecutor | None = None

    def executor(self) -> ThreadPoolExecutor:
        """This process's pool. A forked child (the test suite's live servers fork) starts its own: the
        parent's threads do not exist there, but its executor would count them and never start any."""
        if self.pool is None or self.pool_pid != os.getpid():
            self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="django-http")
            self.pool_pid = os.getpid()
        return self.pool

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """``ASGIHandler.__call__`` without its per-request ``ThreadSensitiveContext`` (two threads
        started per request); nothing of this request runs thread-sensitively."""
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body_file(receive)
        except RequestAborted:
            return
        in_pool = sync_to_async(self.respond, thread_sensitive=False, executor=self.executor())
        try:
            response = await in_pool(scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:
                    # Its content was read while it was sent (or the client left): release it now.
                    close = sync_to_async(response.close, thread_sensitive=False, executor=self.executor())
                    await close()
        finally:
            body_file.close()

    async def read_body_file(self, receive: Any) -> Any:
        """The body as a file: in memory (one ``bytes``) up to ``FILE_UPLOAD_MAX_MEMORY_SIZE``, beyond
        that spooled to disk as the base class does."""
        chunks: list[bytes] = []
        size = 0
        spooled: Any = None
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if spooled is not None:
                    spooled.close()
                raise RequestAborted()
            chunk = message.get("body", b"")
            if chunk:
                if spooled is not None:
                    spooled.write(chunk)
                else:
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
                        spooled = tempfile.SpooledTemporaryFile(  # noqa: SIM115 -- closed by handle()
                            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b"
                        )
                        spooled.write(b"".join(chunks))
                        chunks = []
            if not message.get("more_body", False):
                break
        if spooled is not None:
            spooled.seek(0)
            return spooled
        return io.BytesIO(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        """On a pool thread: what a WSGI handler does for one request (signals, chain, view, close)."""
        set_script_prefix(get_script_prefix(scope))
        # close_old_connections (a broken connection or one past CONN_MAX_AGE is replaced), reset_queries,
        # the server metrics' request counter.
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            response: HttpResponseBase = error_response
        else:
            chain = self.api_chain if request.path_info.startswith(self.api_prefix) else self
            response = chain.get_response(request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]
        if not response.streaming:
            response.close()  # request_finished: this thread's connection is checked again
        return response
