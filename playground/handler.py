"""Django's ASGI handler with the request path on a pool of long-lived threads.

Django's own ``ASGIHandler`` (``django.core.handlers.asgi``) loads the middleware chain in async mode.
Our chain is all ``MiddlewareMixin`` classes plus WhiteNoise (sync only), so every request crossed
between the event loop and a thread about a dozen times (``MiddlewareMixin.__acall__`` runs each
``process_request`` and ``process_response`` through ``sync_to_async``), and the views and the
database ran on a thread created for that one request, with a database connection opened for it and
thrown away after it. Profiled under Daphne, that machinery cost more CPU than the admission itself.

``PooledASGIHandler`` loads the chain in sync mode and runs each request's whole chain, view included,
in one call on a fixed pool of threads: one crossing there and one back, and no thread started. A
pool thread keeps its database connection between requests (``CONN_MAX_AGE``), checked before and
after each request the way Django's ``request_started``/``request_finished`` handlers check it under
WSGI. The pool runs through ``sync_to_async``, so ``async_to_sync`` in a view (the channel-layer
broadcast) still reaches Daphne's event loop. Everything else (reading the body, sending the
response, signals, disconnects) is the base class's.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase


class PooledASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose middleware chain and views run synchronously on ``threads`` pool threads."""

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        # The base class loaded the chain for async callers; rebuild it for one synchronous call.
        self.load_middleware(is_async=False)
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
        """``ASGIHandler.__call__`` without its per-request ``ThreadSensitiveContext``.

        That context gives each request its own executor thread for thread-sensitive sync code, and a
        second thread to shut it down: two threads started per request. Here the request's Django code
        runs on the pool; what the base class still runs thread-sensitively (the request signals and
        ``response.close()``) is a few microseconds of work on asgiref's shared sync thread.
        """
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    def get_response_in_thread(self, request: HttpRequest) -> HttpResponseBase:
        """``BaseHandler.get_response`` with the connection checks WSGI's request signals would do."""
        close_old_connections()  # a connection that broke or outlived CONN_MAX_AGE is replaced
        try:
            return self.get_response(request)
        finally:
            close_old_connections()

    async def get_response_async(self, request: Any) -> HttpResponseBase:
        in_pool = sync_to_async(self.get_response_in_thread, thread_sensitive=False, executor=self.executor())
        return await in_pool(request)
